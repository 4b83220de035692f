//! Config parsing and checking.

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/seedbox.toml"))
}

fn line(e: ConfigError) -> (usize, String) {
    match e {
        ConfigError::At { line, msg, .. } => (line, msg),
        other => panic!("expected a line number: {other}"),
    }
}

#[test]
fn template_parses_once_its_folder_exists() {
    let d = tempfile::tempdir().unwrap();
    let folder = d.path().join("zines");
    std::fs::create_dir(&folder).unwrap();
    let text = TEMPLATE.replace("/srv/library/zines", folder.to_str().unwrap());
    let c = parse(&text).unwrap();
    assert_eq!(c.collections.len(), 1);
    assert_eq!(c.collections[0].name, "zines");
    assert_eq!(c.network.listen.port(), 6881);
    assert_eq!(c.web.admin_token, None);
    assert!(c.mirrors.is_empty());
    // And the template as written names the missing folder and its line.
    let (l, msg) = line(parse(TEMPLATE).unwrap_err());
    assert_eq!(
        TEMPLATE.lines().nth(l - 1).unwrap(),
        "path = \"/srv/library/zines\""
    );
    assert!(msg.contains("not a folder"), "{msg}");
}

#[test]
fn errors_name_the_line() {
    let (l, msg) =
        line(parse("state_dir = \"/x\"\n\n[network]\nlisten = \"nowhere\"\n").unwrap_err());
    assert_eq!(l, 4);
    assert!(msg.contains("not an address"), "{msg}");
    let (l, msg) = line(parse("state_dir = \"/x\"\n[limits]\nmax_peer = 3\n").unwrap_err());
    assert_eq!(l, 3);
    assert!(msg.contains("unknown field"), "{msg}");
    let (l, _) = line(parse("state_dir = \"/x\"\n[web\n").unwrap_err());
    assert_eq!(l, 2);
    let (l, msg) = line(
        parse("state_dir = \"/x\"\n[[collection]]\nname = \"../etc\"\npath = \"/\"\n").unwrap_err(),
    );
    assert_eq!(l, 3);
    assert!(msg.contains("letters"), "{msg}");
    let (l, msg) = line(parse("state_dir = \"/x\"\n[limits]\nmax_peers = -1\n").unwrap_err());
    assert_eq!(l, 3);
    assert!(msg.contains("between"), "{msg}");
    let (l, _) = line(parse("state_dir = \"/x\"\n[web]\nadmin_token = \"short\"\n").unwrap_err());
    assert_eq!(l, 3);
    let (l, msg) = line(
        parse("state_dir = \"/x\"\n[[mirror]]\nname = \"z\"\nkey = \"abc\"\npath = \"/m\"\n")
            .unwrap_err(),
    );
    assert_eq!(l, 4);
    assert!(msg.contains("hex"), "{msg}");
}

#[test]
fn duplicate_names_point_at_both_lines() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_str().unwrap();
    let text = format!(
        "state_dir = \"/x\"\n[[collection]]\nname = \"a\"\npath = \"{p}\"\n[[mirror]]\nname = \"a\"\npath = \"/m\"\n"
    );
    let (l, msg) = line(parse(&text).unwrap_err());
    assert_eq!(l, 6);
    assert!(msg.contains("line 3"), "{msg}");
}

#[test]
fn relative_paths_are_relative_to_the_file() {
    let c = parse("state_dir = \"state\"\n").unwrap();
    assert_eq!(c.state_dir, Path::new("/etc/state"));
    assert_eq!(c.web.listen.unwrap().port(), 8080);
}
