use super::*;

const P_D_TIME: &str = include_str!("../../../../tests/fixtures/nettop/p-d-time.csv");
const P_D_NO_TIME: &str = include_str!("../../../../tests/fixtures/nettop/p-d-no-time.csv");
const INTERFACE_STATE: &str = include_str!("../../../../tests/fixtures/nettop/interface-state.csv");
const NO_P_SOCKETS: &str = include_str!("../../../../tests/fixtures/nettop/no-P-sockets.csv");
const BROKEN: &str = include_str!("../../../../tests/fixtures/nettop/broken.csv");

const DELTA: ParseOptions = ParseOptions {
    drop_first_block: true,
};
const ALL: ParseOptions = ParseOptions {
    drop_first_block: false,
};

fn row(name: &str, pid: u32, bytes_in: u64, bytes_out: u64) -> ProcessRow {
    ProcessRow {
        name: name.to_string(),
        pid,
        bytes_in,
        bytes_out,
        sockets: Vec::new(),
    }
}

fn time(s: &str) -> Option<NaiveTime> {
    Some(NaiveTime::parse_from_str(s, "%H:%M:%S%.f").unwrap())
}

#[test]
fn delta_mode_with_time_column() {
    let (blocks, errors) = parse_str(P_D_TIME, DELTA);
    assert_eq!(errors, vec![]);
    assert_eq!(blocks.len(), 2, "cumulative first block dropped");
    assert_eq!(blocks[0].time, time("09:15:02.120511"));
    assert_eq!(
        blocks[0].rows,
        vec![
            row("launchd", 1, 0, 0),
            row("kernel_task", 0, 63, 240),
            row("mDNSResponder", 205, 1830, 922),
            row("io.tailscale.ip", 79391, 745, 952),
            row("Google Chrome H", 4142, 250000, 12000),
            row("Google Chrome H", 4187, 5120, 880),
            row("Microsoft Edge", 772, 40960, 2048),
            row("Code Helper (Pl", 26260, 0, 702),
            row("com.apple.WebKi", 4139, 0, 0),
            row("Slack Helper", 516, 0, 56),
        ]
    );
    assert_eq!(
        blocks[0].totals().get("Google Chrome H"),
        Some(&(255120, 12880))
    );
    assert_eq!(blocks[1].time, time("09:16:02.121001"));
    assert_eq!(
        blocks[1].rows,
        vec![
            row("launchd", 1, 128, 256),
            row("kernel_task", 0, 0, 0),
            row("mDNSResponder", 205, 0, 87),
            row("Google Chrome H", 4142, u64::MAX, 1),
            row("Microsoft Edge", 772, 0, 0),
            row("com.apple.WebKi", 4139, 3300, 1200),
        ]
    );
}

#[test]
fn keeping_the_first_block_gives_the_cumulative_totals() {
    let (blocks, errors) = parse_str(P_D_TIME, ALL);
    assert!(errors.is_empty());
    assert_eq!(blocks.len(), 3);
    assert_eq!(blocks[0].time, time("09:14:02.118204"));
    assert_eq!(
        blocks[0].totals().get("Google Chrome H"),
        Some(&(1336510272 + 99120, 7263736 + 4410))
    );
}

#[test]
fn header_without_time_column() {
    let (blocks, errors) = parse_str(P_D_NO_TIME, DELTA);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(blocks.len(), 2);
    assert!(blocks.iter().all(|b| b.time.is_none()));
    assert_eq!(blocks[0].rows[4], row("Postman Helper", 70125, 1024, 2048));
    assert_eq!(
        blocks[1].rows,
        vec![
            row("kernel_task", 0, 1, 2),
            row("Google Chrome H", 487, 7000, 300)
        ]
    );
}

#[test]
fn byte_columns_after_interface_and_state() {
    let (blocks, errors) = parse_str(INTERFACE_STATE, DELTA);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        blocks[0].rows,
        vec![
            row("io.tailscale.ip", 79391, 745, 952),
            row("MacPacketTunnel", 18262, 39652, 1085),
            row("Code Helper (Pl", 51458, 0, 702),
            row("Spotify", 1579, 52000, 9000),
        ]
    );
    assert_eq!(
        blocks[1].rows,
        vec![
            row("Spotify", 1579, 1000, 2000),
            row("Code Helper (Pl", 51458, 0, 0)
        ]
    );
}

#[test]
fn socket_rows_break_their_process_down_and_add_nothing() {
    let (blocks, errors) = parse_str(NO_P_SOCKETS, DELTA);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(blocks.len(), 1);
    let totals: Vec<(&str, u64, u64)> = blocks[0]
        .rows
        .iter()
        .map(|r| (r.name.as_str(), r.bytes_in, r.bytes_out))
        .collect();
    assert_eq!(
        totals,
        vec![
            ("mDNSResponder", 4410, 1220),
            ("Microsoft Edge", 88000, 3100),
            ("zerotier-one", 512, 512),
        ]
    );
    let edge = &blocks[0].rows[1];
    assert_eq!(
        edge.sockets.len(),
        2,
        "its IPv6 socket and its idle loopback one"
    );
    assert_eq!(edge.sockets[0].interface, "en0");
    let to: Vec<(String, u64, u64)> = edge
        .destinations()
        .into_iter()
        .map(|(a, f)| (a.to_string(), f.bytes_in, f.bytes_out))
        .collect();
    assert_eq!(
        to,
        vec![("2606:4700::6810".to_string(), 88000, 3100)],
        "the loopback socket moved nothing"
    );
    let mdns = &blocks[0].rows[0];
    assert!(
        mdns.destinations().is_empty(),
        "an unconnected socket (*.*) has no destination: its bytes stay the app's own"
    );
    let (all, _) = parse_str(NO_P_SOCKETS, ALL);
    assert_eq!(all[0].rows.len(), 2, "socket rows are no processes");
    let edge = &all[0].rows[1];
    let to: Vec<(String, u64, u64)> = edge
        .destinations()
        .into_iter()
        .map(|(a, f)| (a.to_string(), f.bytes_in, f.bytes_out))
        .collect();
    assert_eq!(
        to,
        vec![
            ("17.57.145.55".to_string(), 27201, 31090),
            ("2606:4700::6810".to_string(), 13503716, 10112),
        ]
    );
}

#[test]
fn remote_ends_read_in_every_form_nettop_prints() {
    let cases = [
        (
            "tcp4 192.168.3.37:56241<->17.57.145.55:5223",
            Some("17.57.145.55"),
        ),
        ("udp4 192.168.3.37:9993<->8.8.8.8:53", Some("8.8.8.8")),
        (
            "tcp6 2a01:e0a:1f3::5.50112<->2606:4700::6810.443",
            Some("2606:4700::6810"),
        ),
        (
            "tcp6 fe80::1%en0.50112<->fe80::aede:48ff:fe00:1122%en0.62078",
            Some("fe80::aede:48ff:fe00:1122"),
        ),
        (
            "tcp6 ::ffff:10.0.0.2.5000<->::ffff:17.57.144.84.443",
            Some("17.57.144.84"),
        ),
        ("udp6 *.5353<->*.*", None),
        ("udp4 *:5353<->*:*", None),
        ("udp4 192.168.3.37:62457<->*:*", None),
        ("tcp4 0.0.0.0:80<->0.0.0.0:0", None),
        ("tcp4 10.0.0.1:1<->not-an-address:443", None),
        ("no arrow at all", None),
    ];
    for (field, want) in cases {
        let got = remote_of(field).map(|a| a.to_string());
        assert_eq!(got.as_deref(), want, "{field}");
    }
}

#[test]
fn a_socket_row_before_any_process_is_an_error_and_the_rest_is_read() {
    let text = "time,,interface,bytes_in,bytes_out,\n\
                10:00:00.1,tcp4 10.0.0.2:5000<->17.57.144.84:443,en0,5,6,\n\
                10:00:00.2,curl.77,,100,20,\n\
                10:00:00.3,tcp4 10.0.0.2:5001<->17.57.144.84:443,en0,90,10,\n";
    let (blocks, errors) = parse_str(text, ALL);
    assert!(
        matches!(errors.as_slice(), [ParseError::SocketBeforeProcess { .. }]),
        "{errors:?}"
    );
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].rows[0].bytes_in, 100);
    assert_eq!(blocks[0].rows[0].sockets.len(), 1);
}

#[test]
fn every_broken_line_is_an_error_and_good_lines_still_count() {
    let (blocks, errors) = parse_str(BROKEN, ALL);
    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            ParseError::RowBeforeHeader { .. } => "before-header",
            ParseError::HeaderMissingColumn { .. } => "header",
            ParseError::TooFewFields { .. } => "few",
            ParseError::MissingPid { .. } => "pid",
            ParseError::EmptyName { .. } => "name",
            ParseError::BadNumber { .. } => "number",
            ParseError::CarriageReturn { .. } => "cr",
            ParseError::SocketBeforeProcess { .. } => "socket",
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "before-header",
            "pid",
            "pid",
            "name",
            "number",
            "number",
            "number",
            "number",
            "few",
            "header",
            "before-header",
            "cr",
        ]
    );
    assert_eq!(
        errors[9],
        ParseError::HeaderMissingColumn {
            column: "bytes_in",
            line: "time,,bytes_out,".to_string()
        }
    );
    assert_eq!(
        errors[4].to_string(),
        "the bytes_in value \"12 KiB\" is not a whole number of bytes: \"10:00:00.000005,curl.9999,12 KiB,0,\""
    );
    assert_eq!(
        blocks,
        vec![
            Block {
                time: time("10:00:00.000001"),
                rows: vec![row("Spotify", 1579, 100, 200)],
            },
            Block {
                time: time("10:00:01.000001"),
                rows: vec![row("Spotify", 1579, 7, 8), row("curl", 9999, 1, 2)],
            },
        ]
    );
}

#[test]
fn crlf_line_endings_are_tolerated() {
    let text = P_D_NO_TIME.replace('\n', "\r\n");
    assert_eq!(parse_str(&text, DELTA), parse_str(P_D_NO_TIME, DELTA));
}

#[test]
fn columns_come_from_each_header() {
    let text = "time,,state,bytes_out,interface,bytes_in,\n\
                1:00:00.5,a.1001,,10,,20,\n\
                ,bytes_in,bytes_out,\n\
                b.1002,3,4,\n";
    let (blocks, errors) = parse_str(text, ALL);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(blocks[0].rows, vec![row("a", 1001, 20, 10)]);
    assert_eq!(blocks[0].time, time("01:00:00.5"));
    assert_eq!(blocks[1].rows, vec![row("b", 1002, 3, 4)]);
}

#[test]
fn a_line_without_trailing_comma_still_parses() {
    let (blocks, errors) = parse_str("time,,bytes_in,bytes_out\nx,a b.7,1,2", ALL);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(blocks[0].rows, vec![row("a b", 7, 1, 2)]);
    assert_eq!(blocks[0].time, None, "an unreadable time is not an error");
}

#[test]
fn streaming_header_closes_and_finish_flushes() {
    let mut p = NettopParser::new(DELTA);
    assert_eq!(p.feed_line(",bytes_in,bytes_out,"), Ok(None));
    assert_eq!(p.feed_line("a.1001,5,5,"), Ok(None));
    assert_eq!(p.finish(), None, "the first block is dropped");
    // Late rows of the first (cumulative) sample stay dropped.
    assert_eq!(p.feed_line("b.1002,5,5,"), Ok(None));
    assert_eq!(p.feed_line(",bytes_in,bytes_out,"), Ok(None));
    assert_eq!(p.feed_line("a.1001,1,2,"), Ok(None));
    let block = p.finish().unwrap();
    assert_eq!(block.rows, vec![row("a", 1001, 1, 2)]);
    assert_eq!(p.finish(), None, "nothing left");
    assert_eq!(p.feed_line("a.1001,3,4,"), Ok(None));
    let closed = p.feed_line(",bytes_in,bytes_out,").unwrap().unwrap();
    assert_eq!(closed.rows, vec![row("a", 1001, 3, 4)]);
    assert_eq!(p.finish(), None, "a header alone is no block");
}

#[test]
fn pid_must_fit_and_name_splits_at_the_last_dot() {
    let (blocks, errors) = parse_str(
        ",bytes_in,bytes_out,\na.b.c.4294967295,1,1,\na.4294967296,1,1,\nd.e.,1,1,\n",
        ALL,
    );
    assert_eq!(blocks[0].rows, vec![row("a.b.c", u32::MAX, 1, 1)]);
    assert!(matches!(errors[0], ParseError::MissingPid { .. }));
    assert!(matches!(errors[1], ParseError::MissingPid { .. }));
    assert_eq!(errors.len(), 2);
}

#[test]
fn long_garbage_is_cut_in_error_messages() {
    let line = format!("time,{}", "é".repeat(500));
    let err = NettopParser::new(ALL).feed_line(&line).unwrap_err();
    let ParseError::HeaderMissingColumn { line, .. } = err else {
        panic!("unexpected {err:?}");
    };
    assert!(line.len() < 200 && line.ends_with('…'));
}

#[test]
fn names_with_commas_and_other_oddities_keep_their_traffic() {
    // nettop does not quote: whatever is left of the header's columns after
    // reading from the right is the name, pid after its last dot.
    let text = "time,,bytes_in,bytes_out,\n\
                10:00:00.1,Acme, Inc. Sync.812,100,10,\n\
                10:00:00.1,a,b,c.7,1,2,\n\
                10:00:00.1,Micro, Edge .772,3,4,\n\
                10:00:00.1,v2.0 Tool 3.99,5,6,\n\
                10:00:00.1,,lead.5,7,8,\n";
    let (blocks, errors) = parse_str(text, ALL);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        blocks[0].rows,
        vec![
            row("Acme, Inc. Sync", 812, 100, 10),
            row("a,b,c", 7, 1, 2),
            row("Micro, Edge", 772, 3, 4),
            row("v2.0 Tool 3", 99, 5, 6),
            row(",lead", 5, 7, 8),
        ]
    );
    assert_eq!(blocks[0].time, time("10:00:00.1"));

    // Without the time column, and with columns on both sides of the bytes.
    let text = ",bytes_in,bytes_out,\nFoo, Bar.42,9,8,\n\
                time,,interface,state,bytes_in,bytes_out,rx_dupe,\n\
                10:00:01.0,Comma, App.43,,,11,12,0,\n";
    let (blocks, errors) = parse_str(text, ALL);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(blocks[0].rows, vec![row("Foo, Bar", 42, 9, 8)]);
    assert_eq!(blocks[1].rows, vec![row("Comma, App", 43, 11, 12)]);
    assert_eq!(blocks[1].time, time("10:00:01.0"));
}
