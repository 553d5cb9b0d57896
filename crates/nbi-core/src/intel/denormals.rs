//! Flush-to-zero for the training loop: denormal floats (which Adam's
//! moments and tiny gradients drift into late in training) are many times
//! slower on x86; treating them as zero changes nothing a day's verdict
//! depends on.

/// While alive, the current thread flushes denormal results to zero and
/// treats denormal inputs as zero (MXCSR FTZ and DAZ on x86_64; nothing
/// elsewhere). The previous mode comes back on drop.
pub struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    previous: u32,
}

#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = 0x8040;

impl FlushDenormals {
    pub fn on() -> FlushDenormals {
        #[cfg(target_arch = "x86_64")]
        {
            let previous = read_mxcsr();
            write_mxcsr(previous | FTZ_DAZ);
            FlushDenormals { previous }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            FlushDenormals {}
        }
    }

    /// Whether the current thread flushes denormals now.
    pub fn active() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            read_mxcsr() & FTZ_DAZ == FTZ_DAZ
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}

impl Drop for FlushDenormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        write_mxcsr(self.previous);
    }
}

#[cfg(target_arch = "x86_64")]
fn read_mxcsr() -> u32 {
    let mut csr: u32 = 0;
    // SAFETY: stmxcsr stores the SSE control register (always present on
    // x86_64) into a valid, aligned u32 of ours.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
    }
    csr
}

#[cfg(target_arch = "x86_64")]
fn write_mxcsr(csr: u32) {
    // SAFETY: ldmxcsr loads a value read from the register with only the
    // FTZ/DAZ mode bits changed; no exception bits are unmasked.
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_while_alive_and_restores_after() {
        let before = FlushDenormals::active();
        {
            let _g = FlushDenormals::on();
            if cfg!(target_arch = "x86_64") {
                assert!(FlushDenormals::active());
                let tiny = std::hint::black_box(f32::MIN_POSITIVE);
                assert_eq!(std::hint::black_box(tiny / 4.0), 0.0);
            }
        }
        assert_eq!(FlushDenormals::active(), before);
    }
}
