//! Tuning profiles (`tuning/*.conf`) and reading the running machine's values, for
//! `mqadmin checkTuning`. Everything here only reads: /proc/sys, /sys and getrlimit.
//!
//! A profile is a file `sysctl -p` accepts as it is: `key = value` lines are sysctl
//! settings, `#` lines are comments, and lines starting `;@` (which sysctl also skips as
//! comments) hold what sysctl cannot set: `limit.nofile`, `limit.memlock` (KiB or
//! `unlimited`, as limits.conf), `thp.enabled`, `thp.defrag`, `block.scheduler` and kernel
//! module parameters, `module.<module>.<parameter>` (read from
//! /sys/module/<module>/parameters/<parameter>; a module the kernel does not have makes the
//! setting "n/a", not a difference). The `#` comment right above a setting is its reason.

use std::path::Path;

/// One setting of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub expected: String,
    pub reason: String,
    pub line: usize,
}

/// Parses a profile; a line that is neither comment, blank nor `key = value` is an error.
pub fn parse_profile(text: &str) -> Result<Vec<Setting>, String> {
    let mut settings = Vec::new();
    let mut reason = String::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            reason.clear();
            continue;
        }
        let setting = if let Some(extended) = line.strip_prefix(";@") {
            extended.trim()
        } else if let Some(comment) = line.strip_prefix('#') {
            reason = comment.trim().to_owned();
            continue;
        } else if line.starts_with(';') {
            continue;
        } else {
            line
        };
        let Some((key, value)) = setting.split_once('=') else {
            return Err(format!("line {}: expected `key = value`: {raw}", index + 1));
        };
        let (key, value) = (key.trim(), normalize(value));
        if key.is_empty() || value.is_empty() {
            return Err(format!("line {}: empty key or value: {raw}", index + 1));
        }
        settings.push(Setting {
            key: key.to_owned(),
            expected: value,
            reason: std::mem::take(&mut reason),
            line: index + 1,
        });
    }
    Ok(settings)
}

/// Values compare with runs of whitespace folded: /proc prints tcp_rmem with tabs.
fn normalize(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The key, with the device for per-device settings: `block.scheduler[nvme0n1]`.
    pub key: String,
    pub expected: String,
    /// `Err` says why the value could not be read.
    pub actual: Result<String, String>,
    pub reason: String,
    /// False when the machine lacks what the setting tunes (a kernel module it has not got).
    pub applies: bool,
}

impl Check {
    pub fn status(&self) -> &'static str {
        match &self.actual {
            _ if !self.applies => "n/a",
            Ok(actual) if *actual == self.expected => "ok",
            Ok(_) => "differs",
            Err(_) => "unreadable",
        }
    }
}

/// Where the machine's values come from; tests point it at a fake tree.
pub struct Machine<'a> {
    pub proc_sys: &'a Path,
    pub sys: &'a Path,
}

impl Machine<'static> {
    pub fn local() -> Machine<'static> {
        Machine {
            proc_sys: Path::new("/proc/sys"),
            sys: Path::new("/sys"),
        }
    }
}

impl Machine<'_> {
    /// Reads the value(s) of one setting: one check, or one per block device.
    pub fn check(&self, setting: &Setting) -> Vec<Check> {
        let check = |key: String, actual: Result<String, String>| Check {
            key,
            expected: setting.expected.clone(),
            actual,
            reason: setting.reason.clone(),
            applies: true,
        };
        match setting.key.as_str() {
            "limit.nofile" => vec![check(setting.key.clone(), rlimit(libc::RLIMIT_NOFILE, 1))],
            // limits.conf counts memlock in KiB; getrlimit in bytes.
            "limit.memlock" => vec![check(
                setting.key.clone(),
                rlimit(libc::RLIMIT_MEMLOCK, 1024),
            )],
            "thp.enabled" | "thp.defrag" => {
                let file = setting.key.trim_start_matches("thp.");
                let path = self.sys.join("kernel/mm/transparent_hugepage").join(file);
                vec![check(setting.key.clone(), read_selected(&path))]
            }
            "block.scheduler" => {
                let devices = self.block_devices();
                if devices.is_empty() {
                    let why = Err("no block device with a scheduler".to_owned());
                    return vec![check(setting.key.clone(), why)];
                }
                devices
                    .into_iter()
                    .map(|(device, path)| {
                        check(format!("block.scheduler[{device}]"), read_selected(&path))
                    })
                    .collect()
            }
            key if key.starts_with("module.") => {
                let named = key["module.".len()..]
                    .split_once('.')
                    .filter(|(module, parameter)| {
                        let plain = |name: &str| !name.is_empty() && !name.contains('/');
                        plain(module) && plain(parameter)
                    });
                let Some((module, parameter)) = named else {
                    let why = Err("expected module.<module>.<parameter>".to_owned());
                    return vec![check(key.to_owned(), why)];
                };
                let dir = self.sys.join("module").join(module);
                if !dir.exists() {
                    let mut absent = check(
                        key.to_owned(),
                        Err(format!("no module {module} in this kernel")),
                    );
                    absent.applies = false;
                    return vec![absent];
                }
                vec![check(
                    key.to_owned(),
                    read_value(&dir.join("parameters").join(parameter)),
                )]
            }
            key if key.contains('.') && !key.starts_with("limit.") => {
                let path = self.proc_sys.join(key.replace('.', "/"));
                vec![check(key.to_owned(), read_value(&path))]
            }
            other => vec![check(other.to_owned(), Err("unknown setting".into()))],
        }
    }

    /// Real block devices that have an I/O scheduler (loop, ram and zram devices are
    /// memory or files, so their scheduler does not matter).
    fn block_devices(&self) -> Vec<(String, std::path::PathBuf)> {
        let Ok(entries) = std::fs::read_dir(self.sys.join("block")) else {
            return Vec::new();
        };
        let mut devices: Vec<(String, std::path::PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| !["loop", "ram", "zram"].iter().any(|p| name.starts_with(p)))
            .map(|name| {
                let path = self.sys.join("block").join(&name).join("queue/scheduler");
                (name, path)
            })
            .filter(|(_, path)| path.exists())
            .collect();
        devices.sort();
        devices
    }
}

fn read_value(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|text| normalize(&text))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The bracketed choice of a sysfs selector: `always madvise [never]` -> `never`.
fn read_selected(path: &Path) -> Result<String, String> {
    let text = read_value(path)?;
    let selected = text
        .split(' ')
        .find_map(|word| word.strip_prefix('[').and_then(|w| w.strip_suffix(']')));
    Ok(selected.unwrap_or(&text).to_owned())
}

/// This process's soft limit, in `unit` bytes, or `unlimited`. mqadmin inherits the limits
/// of the shell it runs from, which are what a broker started from that shell gets.
fn rlimit(resource: libc::__rlimit_resource_t, unit: u64) -> Result<String, String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(resource, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        return Ok("unlimited".to_owned());
    }
    Ok((limit.rlim_cur / unit).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_lines_sysctl_reads_are_settings_and_reasons_attach() {
        let text = "# Profile header.\n\n# Keep memory resident.\nvm.swappiness = 1\n\
                    ; a sysctl comment\n# Enough files.\n;@ limit.nofile = 1048576\n\
                    net.ipv4.tcp_rmem = 4096\t87380   16777216\n";
        let settings = parse_profile(text).unwrap();
        assert_eq!(settings.len(), 3);
        assert_eq!(settings[0].key, "vm.swappiness");
        assert_eq!(settings[0].reason, "Keep memory resident.");
        assert_eq!(settings[1].key, "limit.nofile");
        assert_eq!(settings[1].reason, "Enough files.");
        assert_eq!(settings[2].expected, "4096 87380 16777216");
        assert_eq!(settings[2].reason, "");
        assert!(parse_profile("vm.swappiness 1\n").is_err());
    }

    #[test]
    fn reads_a_fake_machine() {
        let root = std::env::temp_dir().join(format!("ramjet-tuning-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (proc_sys, sys) = (root.join("proc_sys"), root.join("sys"));
        std::fs::create_dir_all(proc_sys.join("vm")).unwrap();
        std::fs::create_dir_all(sys.join("kernel/mm/transparent_hugepage")).unwrap();
        std::fs::create_dir_all(sys.join("block/nvme0n1/queue")).unwrap();
        std::fs::create_dir_all(sys.join("block/loop0/queue")).unwrap();
        std::fs::create_dir_all(sys.join("module/haltpoll/parameters")).unwrap();
        std::fs::write(
            sys.join("module/haltpoll/parameters/guest_halt_poll_ns"),
            "0\n",
        )
        .unwrap();
        std::fs::write(proc_sys.join("vm/swappiness"), "60\n").unwrap();
        std::fs::write(
            sys.join("kernel/mm/transparent_hugepage/enabled"),
            "always madvise [never]\n",
        )
        .unwrap();
        std::fs::write(
            sys.join("block/nvme0n1/queue/scheduler"),
            "[none] mq-deadline\n",
        )
        .unwrap();
        std::fs::write(
            sys.join("block/loop0/queue/scheduler"),
            "[mq-deadline] none\n",
        )
        .unwrap();
        let machine = Machine {
            proc_sys: &proc_sys,
            sys: &sys,
        };
        let profile = parse_profile(
            "vm.swappiness = 1\n;@ thp.enabled = never\n;@ block.scheduler = none\nvm.nothing = 3\n\
             ;@ module.haltpoll.guest_halt_poll_ns = 200000\n;@ module.absent.knob = 1\n",
        )
        .unwrap();
        let checks: Vec<Check> = profile.iter().flat_map(|s| machine.check(s)).collect();
        let summary: Vec<(&str, &str)> = checks
            .iter()
            .map(|c| (c.key.as_str(), c.status()))
            .collect();
        assert_eq!(
            summary,
            [
                ("vm.swappiness", "differs"),
                ("thp.enabled", "ok"),
                ("block.scheduler[nvme0n1]", "ok"),
                ("vm.nothing", "unreadable"),
                ("module.haltpoll.guest_halt_poll_ns", "differs"),
                ("module.absent.knob", "n/a"),
            ]
        );
        assert_eq!(checks[0].actual, Ok("60".to_owned()));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
