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

/// A config in `dir` (written there, so relative paths and the config
/// file's own place are real) with `body` after the common part.
fn in_dir(dir: &Path, body: &str) -> Result<Config, ConfigError> {
    let file = dir.join("seedbox.toml");
    let text = format!("state_dir = \"state\"\n{body}");
    std::fs::write(&file, &text).unwrap();
    Config::load(&file)
}

/// The line a refusal names, the text on that line, and the message.
fn refused(dir: &Path, body: &str) -> (usize, String, String) {
    let text = format!("state_dir = \"state\"\n{body}");
    let (l, msg) = line(in_dir(dir, body).unwrap_err());
    (l, text.lines().nth(l - 1).unwrap().to_string(), msg)
}

#[test]
fn overlapping_folders_are_refused_with_their_line() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    for f in ["lib/zines", "lib/zines/sub", "other", "srv/config"] {
        std::fs::create_dir_all(d.join(f)).unwrap();
    }
    let coll =
        |name: &str, path: &str| format!("[[collection]]\nname = \"{name}\"\npath = \"{path}\"\n");
    let mirror =
        |name: &str, path: &str| format!("[[mirror]]\nname = \"{name}\"\npath = \"{path}\"\n");
    // Side by side: fine.
    in_dir(
        d,
        &(coll("a", "lib/zines") + &coll("b", "other") + &mirror("m", "mirrors/m")),
    )
    .unwrap();

    // state_dir inside a collection: the key would be published.
    let text = format!(
        "state_dir = \"lib/zines/.state\"\n{}",
        coll("a", "lib/zines")
    );
    std::fs::write(d.join("seedbox.toml"), &text).unwrap();
    let (l, msg) = line(Config::load(&d.join("seedbox.toml")).unwrap_err());
    assert_eq!(l, 1);
    assert!(
        msg.contains("private key") && msg.contains("line 4"),
        "{msg}"
    );
    // ... or inside a mirror folder; or a collection inside state_dir.
    let text = format!("state_dir = \"m/state\"\n{}", mirror("m", "m"));
    std::fs::write(d.join("seedbox.toml"), &text).unwrap();
    assert_eq!(
        line(Config::load(&d.join("seedbox.toml")).unwrap_err()).0,
        1
    );
    std::fs::create_dir_all(d.join("state/pub")).unwrap();
    let (_, at, msg) = refused(d, &coll("a", "state/pub"));
    assert_eq!(at, "path = \"state/pub\"");
    assert!(msg.contains("inside state_dir"), "{msg}");

    // A collection inside another, either way round; the same folder twice.
    for (first, second) in [
        ("lib/zines", "lib/zines/sub"),
        ("lib/zines/sub", "lib/zines"),
        ("other", "other/"),
    ] {
        let (_, at, msg) = refused(d, &(coll("a", first) + &coll("b", second)));
        assert_eq!(at, format!("path = \"{second}\""), "{msg}");
        assert!(
            msg.contains("collection \"a\"") && msg.contains("line 4"),
            "{msg}"
        );
    }
    // A symlink does not hide it.
    std::os::unix::fs::symlink(d.join("lib"), d.join("link")).unwrap();
    let (_, at, _) = refused(d, &(coll("a", "lib/zines") + &coll("b", "link/zines/sub")));
    assert_eq!(at, "path = \"link/zines/sub\"");

    // A mirror inside, around or on a collection, or another mirror.
    for (c, m) in [
        ("lib/zines", "lib/zines/copy"),
        ("lib/zines/sub", "lib"),
        ("other", "other"),
    ] {
        let (_, at, msg) = refused(d, &(coll("a", c) + &mirror("m", m)));
        assert_eq!(at, format!("path = \"{m}\""), "{msg}");
        assert!(msg.contains("must be its own"), "{msg}");
    }
    let (_, at, _) = refused(d, &(mirror("m", "mirrors") + &mirror("n", "mirrors/n")));
    assert_eq!(at, "path = \"mirrors/n\"");

    // The config file inside a shared folder.
    let text = coll("a", &d.join("srv").display().to_string());
    std::fs::write(
        d.join("srv/config/seedbox.toml"),
        format!("state_dir = \"/var/lib/x\"\n{text}"),
    )
    .unwrap();
    let (l, msg) = line(Config::load(&d.join("srv/config/seedbox.toml")).unwrap_err());
    assert_eq!(l, 4);
    assert!(msg.contains("admin token"), "{msg}");
}

#[test]
fn a_mirror_folder_must_be_empty_or_the_seedboxs() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    std::fs::create_dir_all(d.join("books")).unwrap();
    std::fs::write(d.join("books/my-own.pdf"), b"the librarian's").unwrap();
    let body = "[[mirror]]\nname = \"zines\"\nlocal_name = \"north\"\npath = \"books\"\n";
    let (_, at, msg) = refused(d, body);
    assert_eq!(at, "path = \"books\"");
    assert!(
        msg.contains("my-own.pdf") && msg.contains(&d.join("books").display().to_string()),
        "{msg}"
    );
    std::fs::create_dir_all(d.join("empty")).unwrap();
    in_dir(d, &body.replace("books", "empty")).unwrap();
    crate::mirror_folder::MirrorFolder::claim(&d.join("empty")).unwrap();
    std::fs::write(d.join("empty/later.pdf"), b"x").unwrap();
    in_dir(d, &body.replace("books", "empty")).unwrap();
}

#[test]
fn one_port_for_bittorrent_and_web_is_refused() {
    let (l, msg) = line(
        parse("state_dir = \"/x\"\n[network]\nlisten = \"0.0.0.0:8080\"\n[web]\nlisten = \"127.0.0.1:8080\"\n")
            .unwrap_err(),
    );
    assert_eq!(l, 5);
    assert!(msg.contains("same TCP port 8080"), "{msg}");
    // The web page's default port.
    let (l, _) =
        line(parse("state_dir = \"/x\"\n[network]\nlisten = \"0.0.0.0:8080\"\n").unwrap_err());
    assert_eq!(l, 3);
    // QUIC is UDP; other addresses, other ports, port 0: fine.
    parse("state_dir = \"/x\"\n[network]\nlisten = \"0.0.0.0:6881\"\nquic_listen = \"0.0.0.0:8080\"\n").unwrap();
    parse("state_dir = \"/x\"\n[network]\nlisten = \"10.0.0.1:80\"\n[web]\nlisten = \"10.0.0.2:80\"\n").unwrap();
    parse("state_dir = \"/x\"\n[network]\nlisten = \"127.0.0.1:0\"\n[web]\nlisten = \"127.0.0.1:0\"\n").unwrap();
}

#[test]
fn include_and_exclude_patterns_are_checked() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("z")).unwrap();
    let body = "[[collection]]\nname = \"z\"\npath = \"z\"\ninclude = [\"*.pdf\"]\nexclude = [\n  \"ok\",\n  \"[broken\",\n]\n";
    let (l, at, msg) = refused(d.path(), body);
    assert_eq!((l, at.as_str()), (8, "  \"[broken\","));
    assert!(msg.contains("exclude") && msg.contains("[broken"), "{msg}");
    let c = in_dir(d.path(), &body.replace("  \"[broken\",\n", "")).unwrap();
    assert!(c.collections[0].filter.keeps_file("a.pdf", "a.pdf"));
    assert!(!c.collections[0].filter.keeps_file("ok", "ok"));
    assert!(!c.collections[0].filter.keeps_file("a.epub", "a.epub"));
}
