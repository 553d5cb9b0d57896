//! A tick's apps packed in one blob: (app id, bytes in, bytes out) as
//! LEB128 varints, by app id; and a message's identity (its digest).

/// A message's identity: FNV-1a over its interval and its samples (app id,
/// bytes in, bytes out, by app id), as an SQLite integer.
pub(super) fn content_digest(interval_s: i64, samples: &[(i64, u64, u64)]) -> i64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |v: u64| {
        for b in v.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(PRIME);
        }
    };
    eat(interval_s as u64);
    for &(app, i, o) in samples {
        eat(app as u64);
        eat(i);
        eat(o);
    }
    h as i64
}

/// Two sorted sample lists added app by app.
pub(super) fn sum_samples(a: &[(i64, u64, u64)], b: &[(i64, u64, u64)]) -> Vec<(i64, u64, u64)> {
    let mut out: Vec<(i64, u64, u64)> = a.to_vec();
    for &(app, i, o) in b {
        match out.binary_search_by_key(&app, |s| s.0) {
            Ok(k) => {
                out[k].1 = out[k].1.saturating_add(i);
                out[k].2 = out[k].2.saturating_add(o);
            }
            Err(k) => out.insert(k, (app, i, o)),
        }
    }
    out
}

/// LEB128 varints.
pub(super) mod varint {
    pub(in crate::store::sqlite) fn put(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// The next varint of `blob`, which moves past it; `Err` when cut.
    pub(in crate::store::sqlite) fn take(blob: &mut &[u8]) -> Result<u64, ()> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = blob.split_first().ok_or(())?;
            *blob = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(())
    }
}

/// Packs (app_id, in, out) triples as LEB128 varints.
pub(super) fn pack(samples: &[(i64, u64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * 8);
    for &(app, i, o) in samples {
        varint::put(&mut out, app.max(0) as u64);
        varint::put(&mut out, i.min(i64::MAX as u64));
        varint::put(&mut out, o.min(i64::MAX as u64));
    }
    out
}

/// Calls `f` with each packed triple; `Err` if the blob is cut or malformed.
pub(super) fn for_each_packed(mut blob: &[u8], mut f: impl FnMut(i64, u64, u64)) -> Result<(), ()> {
    while !blob.is_empty() {
        let app = varint::take(&mut blob)?;
        let i = varint::take(&mut blob)?;
        let o = varint::take(&mut blob)?;
        f(i64::try_from(app).map_err(|_| ())?, i, o);
    }
    Ok(())
}
