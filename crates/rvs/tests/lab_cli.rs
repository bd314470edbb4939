//! `rvs lab` end to end, through the binary: exit codes, output, starting rvsd when none
//! runs, the failure-injection hook, and that a bad file creates nothing. Needs root.

mod common;

use common::{output_within, setup, TempDir};
use rvs_lab::{runtime, unique_name, Control};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn example(file: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(file);
    std::fs::read_to_string(p).expect("example")
}

/// The quick start topology under another lab name, written into `dir`.
fn quickstart_as(dir: &Path, name: &str) -> PathBuf {
    let text = example("quickstart.toml").replacen(
        "name = \"quickstart\"",
        &format!("name = \"{name}\""),
        1,
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write topology");
    path
}

fn rvs(run_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rvs"));
    c.arg("--run-dir")
        .arg(run_dir)
        .args(args)
        .env_remove("RVS_RUN_DIR")
        .env_remove("RVS_LAB_FAIL_AT");
    for (k, v) in env {
        c.env(k, v);
    }
    output_within(c, LIMIT)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn leftovers(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = runtime::list_netns()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.extend(
        runtime::list_links(None)
            .unwrap()
            .into_iter()
            .filter(|n| n.starts_with(prefix)),
    );
    v
}

/// Removes the labs and stops the rvsd that `rvs lab up` started, whatever happens.
struct Cleanup {
    run_dir: PathBuf,
    labs: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ctl = Control::new(&self.run_dir);
        for l in &self.labs {
            let _ = runtime::down(l, &ctl, &mut runtime::Quiet);
        }
        // The daemon `rvs lab up` started for this test: its pid is in the lock file.
        if let Ok(pid) = std::fs::read_to_string(self.run_dir.join("rvsd.pid")) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
                for _ in 0..50 {
                    // SAFETY: signal 0 only checks that the process exists.
                    if unsafe { libc::kill(pid, 0) } != 0 {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

#[test]
fn bad_topology_is_a_usage_error_and_creates_nothing() {
    setup();
    let tmp = TempDir::new("lab-bad");
    let run = tmp.path().join("run");
    let name = unique_name("e");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "name = \"{name}\"\n[[bridges]]\nname = \"br0\"\n\n[[hosts]]\nname = \"h1\"\ninterfaces = [{{ bridge = \"br9\", vlan = 10 }}]\n"
        ),
    )
    .unwrap();
    let out = rvs(&run, &["lab", "up", bad.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "rvs: {}:7: key `hosts[0].interfaces[0].bridge`: no bridge named 'br9'\n",
            bad.display()
        )
    );
    assert_eq!(text(&out.stdout), "");
    assert!(!run.join("rvsd.sock").exists(), "no rvsd was started");
    assert_eq!(leftovers(&format!("{name}-")), Vec::<String>::new());
    // A flow that does not parse: the message line, then the flow with a caret.
    std::fs::write(
        &bad,
        format!("name = \"{name}\"\n[[bridges]]\nname = \"br0\"\nflows = [\"priority=10,nw_sr=1.2.3.4,actions=drop\"]\n"),
    )
    .unwrap();
    let out = rvs(&run, &["lab", "up", bad.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "rvs: {}:4: key `bridges[0].flows[0]`: bridge 'br0': unknown field 'nw_sr'\n  priority=10,nw_sr=1.2.3.4,actions=drop\n              ^^^^^\n",
            bad.display()
        )
    );
    assert!(!run.join("rvsd.sock").exists(), "no rvsd was started");
    // A missing file, and `down` of a file that does not parse, are usage errors too.
    let out = rvs(&run, &["lab", "down", "/nonexistent/x.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("rvs: /nonexistent/x.toml: cannot read the topology file")
    );
    // Without a daemon and with --no-start: exit 3, nothing created.
    let good = quickstart_as(tmp.path(), &name);
    let out = rvs(
        &run,
        &["lab", "up", "--no-start", good.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("rvs: rvsd is not running"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(leftovers(&format!("{name}-")), Vec::<String>::new());
}

#[test]
fn lab_commands_end_to_end() {
    setup();
    let tmp = TempDir::new("lab-cli");
    let run = tmp.path().join("run");
    let db = tmp.path().join("conf.db");
    let name = unique_name("c");
    let other = unique_name("f");
    let _cleanup = Cleanup {
        run_dir: run.clone(),
        labs: vec![name.clone(), other.clone()],
    };
    let file = quickstart_as(tmp.path(), &name);
    let file_s = file.to_str().unwrap();

    // up starts rvsd (none runs on this run directory) and says so.
    let out = rvs(
        &run,
        &["lab", "up", "--db", db.to_str().unwrap(), file_s],
        &[],
    );
    let stdout = ok(&out);
    let stderr = text(&out.stderr);
    assert!(
        stdout.starts_with(&format!("lab {name} is up (prefix {name}-): 24 steps, ")),
        "{stdout}"
    );
    assert!(stdout.contains("rvsd was started for it: pid "), "{stdout}");
    assert!(stderr.contains("no rvsd answers on"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "[24/24] host h4: address 10.70.0.4/24 on {name}-h4-0: created"
        )),
        "{stderr}"
    );
    assert!(run.join("rvsd.log").is_file());
    assert!(db.is_file(), "rvsd uses the database given");

    // Again: nothing to do.
    let stdout = ok(&rvs(&run, &["lab", "up", "-q", file_s], &[]));
    assert!(
        stdout.contains("0 created, 0 updated, 24 already present"),
        "{stdout}"
    );
    assert!(!stdout.contains("rvsd was started"), "{stdout}");

    // status, as a table and as JSON.
    let stdout = ok(&rvs(&run, &["lab", "status"], &[]));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&name) && l.contains("4/4") && l.contains(" up ")),
        "{stdout}"
    );
    let stdout = ok(&rvs(
        &run,
        &["--format", "json", "lab", "status", &name],
        &[],
    ));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v[0]["health"], "up", "{stdout}");
    assert_eq!(v[0]["bridges"][1]["ports_up"], 3);

    // exec: the command's own exit status; hosts by name, LAB/HOST or namespace.
    ok(&rvs(
        &run,
        &[
            "lab",
            "exec",
            "h1",
            "--",
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            "10.70.0.3",
        ],
        &[],
    ));
    let out = rvs(
        &run,
        &[
            "lab",
            "exec",
            &format!("{name}/h2"),
            "--",
            "sh",
            "-c",
            "echo hi; exit 7",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(text(&out.stdout), "hi\n");
    let out = rvs(
        &run,
        &[
            "lab",
            "exec",
            &format!("{name}-h3"),
            "--",
            "ip",
            "-o",
            "addr",
            "show",
        ],
        &[],
    );
    assert!(ok(&out).contains("10.70.0.3/24"));
    let out = rvs(&run, &["lab", "exec", "nosuch", "--", "true"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("rvs: no host 'nosuch' in any lab"),
        "{}",
        text(&out.stderr)
    );

    // ping-matrix: the table (no colour: stdout is not a terminal) and JSON.
    let stdout = ok(&rvs(&run, &["lab", "ping-matrix", &name], &[]));
    assert_eq!(
        stdout,
        "from\\to  h1     h2     h3     h4\n\
         h1       -      no     yes    no\n\
         h2       no     -      no     yes\n\
         h3       yes    no     -      no\n\
         h4       no     yes    no     -\n"
    );
    let stdout = ok(&rvs(
        &run,
        &["--format", "json", "lab", "ping-matrix", &name],
        &[],
    ));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v["matrix"],
        serde_json::json!({
            "h1": {"h2": false, "h3": true, "h4": false},
            "h2": {"h1": false, "h3": false, "h4": true},
            "h3": {"h1": true, "h2": false, "h4": false},
            "h4": {"h1": false, "h2": true, "h3": false},
        })
    );
    assert_eq!(v["lab"], name.as_str());
    assert_eq!(v["probes"].as_array().unwrap().len(), 12);

    // graph: DOT on stdout, SVG into a file when Graphviz is there.
    let stdout = ok(&rvs(&run, &["lab", "graph", &name], &[]));
    assert!(
        stdout.starts_with(&format!("graph \"lab {name}\" {{")),
        "{stdout}"
    );
    assert!(stdout.contains("\"host:h1\" -- \"bridge:br0\""), "{stdout}");
    let svg = tmp.path().join("lab.svg");
    let out = rvs(
        &run,
        &["lab", "graph", file_s, "-o", svg.to_str().unwrap()],
        &[],
    );
    if rvs_lab::graph::dot_available() {
        assert_eq!(ok(&out), format!("wrote {} (SVG)\n", svg.display()));
        assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    } else {
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains("install Graphviz"));
    }

    // The failure-injection hook: a second lab fails at step 3 and is rolled back.
    let second = quickstart_as(tmp.path(), &other);
    let out = rvs(
        &run,
        &["lab", "up", "-q", second.to_str().unwrap()],
        &[("RVS_LAB_FAIL_AT", "3")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "rvs: step 3/24 (link br0 <-> br1: patch port {other}-l0-a on br0) failed: injected failure (test hook fail_at=3); rolled back (2 changes undone)"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(leftovers(&format!("{other}-")), Vec::<String>::new());
    let shown = ok(&rvs(&run, &["show"], &[]));
    assert!(!shown.contains(&format!("{other}-")), "{shown}");
    assert!(ok(&rvs(&run, &["lab", "status"], &[]))
        .lines()
        .all(|l| !l.starts_with(&other)));

    // down, by name and then by file: the second finds nothing.
    let stdout = ok(&rvs(&run, &["lab", "down", &name], &[]));
    // (Veth host ends usually vanish with their namespaces; the count of interfaces
    // removed by hand depends on how fast the kernel is.)
    assert!(
        stdout.starts_with(&format!(
            "lab {name} is down: removed 2 bridges, 0 other ports, 4 namespaces, "
        )),
        "{stdout}"
    );
    let stdout = ok(&rvs(&run, &["lab", "down", file_s], &[]));
    assert_eq!(stdout, format!("lab {name}: nothing to remove\n"));
    assert_eq!(leftovers(&format!("{name}-")), Vec::<String>::new());
    assert_eq!(
        ok(&rvs(&run, &["lab", "status"], &[])),
        format!("no labs in {}\n", run.display())
    );
}
