//! Command line: serve (default), migrate, demo --reset, user add.

use naju_helper::accounts::models::Role;
use naju_helper::accounts::service::{self, AccountInput, NewAccount};
use naju_helper::i18n::Lang;
use naju_helper::startup::Core;
use naju_helper::{demo, logging, Application, Config};

const USAGE: &str = "naju-helper — 임신부 가사돌봄 · 토요 열린보건소 예약 시스템

USAGE:
  naju-helper [serve]            run the web app (creates and migrates the database)
  naju-helper migrate            apply pending database migrations and exit
  naju-helper demo --reset       delete all data and load the demo data again
  naju-helper user add --role staff|contractor|resident --email E --name N --phone P
                                 [--password P | NAJU_PASSWORD env] [--supervisor]
                                 [--agency CODE]  (a contractor's agency)
  naju-helper report --program housework|saturday_clinic [--from YYYY-MM-DD --to YYYY-MM-DD]
                     [--format csv|xlsx|json] [--table summary|quarterly|budget] [--out FILE] [--lang ko|en]
                                 results report (default: the program's whole term, CSV to stdout)
  naju-helper city import FILE.toml | city import --shipped NAME
                                 apply a city file (programs, rule versions, agencies,
                                 indicators, budgets) in one transaction
  naju-helper city export [--out FILE]
                                 write the current configuration as a city file
  naju-helper city list          the city files shipped with the app
  naju-helper backup FILE        a consistent copy of the database while the app serves
                                 (SQLite: VACUUM INTO; PostgreSQL: pg_dump --format=custom)
  naju-helper restore FILE       restore a backup into an empty database (then migrate)
  naju-helper documents rotate   re-encrypt documents sealed under an old key with DOCUMENT_KEY
                                 (the old keys in DOCUMENT_KEYS_OLD)
  naju-helper documents new-key  print a new random DOCUMENT_KEY
  naju-helper retention preview [--as-of YYYY-MM-DD]
                                 what a retention run would delete or anonymise, per kind
                                 with its cut-off date (default: today)
  naju-helper retention run [--as-of YYYY-MM-DD]
                                 delete or anonymise what is past its retention period (logged)
  naju-helper import-results FILE.csv
                                 import past targets, actuals and budgets (see README)
  naju-helper results rebuild    recompute the report's maintained counts from the raw
                                 records (one transaction) and print what changed
  naju-helper bench-baseline       benchmark baseline: a bare handler rendering one template
  naju-helper bench-db [--n N] [--threads T]
                                 benchmark baseline: raw write transactions of a booking
  naju-helper bench-report [--program P] [--from D --to D] [--reps N]
                                 the results report timed alone: maintained figures vs a raw recount
  naju-helper bench-argon2 [--seconds N]
                                 argon2id hashes per second with the app's parameters, one
                                 thread per CPU (default 5 s): `argon2_hashes_per_s=<float>`
  naju-helper routes             list every route the app serves (method and path pattern)
  naju-helper help

Configuration is read from the environment; see README.md.";

fn main() {
    limit_malloc_arenas();
    logging::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match run(&args) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("error: {msg}");
            1
        }
    };
    std::process::exit(code);
}

/// glibc gives each thread that allocates under contention an arena of its
/// own, up to 8 per CPU; the server's blocking threads (two per pooled
/// connection at most) each kept freed memory in theirs, and a burst of 256
/// clients left the SQLite server at 186 MiB. One arena per CPU (as if
/// `MALLOC_ARENA_MAX` were set to it) held the same run to 124 MiB
/// (BENCHMARKS.md). An explicit `MALLOC_ARENA_MAX` in the environment wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 64);
        // SAFETY: mallopt only sets an allocator parameter; called first thing
        // in main, before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cpus as libc::c_int);
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let command: Vec<&str> = args.iter().map(String::as_str).collect();
    match command.as_slice() {
        [] | ["serve"] => serve(),
        ["migrate"] => {
            let config = Config::from_env()?;
            Core::open(&config).map_err(|e| e.to_string())?;
            println!("migrations applied ({})", naju_helper::db::parse_database_url(&config.database_url).0.name());
            Ok(())
        }
        ["demo", "--reset"] => {
            let config = Config::from_env()?;
            let core = Core::open(&config).map_err(|e| e.to_string())?;
            let mut conn = core.pool.get().map_err(|e| e.to_string())?;
            demo::reset(&mut conn, &core.notifier).map_err(|e| e.to_string())?;
            print_demo_logins();
            Ok(())
        }
        ["user", "add", rest @ ..] => add_user(rest),
        ["report", rest @ ..] => report(rest),
        ["import-results", file] => import_results(file),
        ["results", "rebuild"] => results_rebuild(),
        ["retention", "preview", rest @ ..] => retention(false, rest),
        ["retention", "run", rest @ ..] => retention(true, rest),
        ["city", "import", "--shipped", name] => {
            let text = naju_helper::city::shipped(name).ok_or_else(|| format!("no shipped city file {name:?}; see `city list`"))?;
            city_import(name, text)
        }
        ["city", "import", file] => {
            let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
            city_import(file, &text)
        }
        ["city", "export", rest @ ..] => city_export(flag(rest, "--out")),
        ["backup", file] => {
            naju_helper::backup::backup(&Config::from_env()?, std::path::Path::new(file))?;
            println!("backup written to {file}");
            Ok(())
        }
        ["restore", file] => {
            naju_helper::backup::restore(&Config::from_env()?, std::path::Path::new(file))?;
            println!("restored {file}");
            Ok(())
        }
        ["documents", "rotate"] => {
            let config = Config::from_env()?;
            let core = Core::open(&config).map_err(|e| e.to_string())?;
            let mut conn = core.pool.get().map_err(|e| e.to_string())?;
            let n = naju_helper::applications::documents::rotate(&mut conn, &config.document_keys).map_err(|e| e.to_string())?;
            println!("re-encrypted {n} documents under key {}", config.document_keys.current_id());
            Ok(())
        }
        ["documents", "new-key"] => {
            println!("{}", naju_helper::crypto::new_key());
            Ok(())
        }
        ["city", "list"] => {
            for (name, _) in naju_helper::city::SHIPPED {
                println!("{name}");
            }
            Ok(())
        }
        ["bench-baseline"] => naju_helper::bench::serve_baseline(&Config::from_env()?),
        ["bench-db", rest @ ..] => {
            let n = flag(rest, "--n").and_then(|v| v.parse().ok()).unwrap_or(5000);
            let threads = flag(rest, "--threads").and_then(|v| v.parse().ok()).unwrap_or(4);
            println!("{}", naju_helper::bench::raw_writes(&Config::from_env()?, n, threads)?);
            Ok(())
        }
        ["bench-argon2", rest @ ..] => {
            let seconds = flag(rest, "--seconds").and_then(|v| v.parse().ok()).unwrap_or(5.0);
            let per_s = naju_helper::accounts::password::bench(seconds).map_err(|e| e.to_string())?;
            println!("argon2_hashes_per_s={per_s:.3}");
            Ok(())
        }
        ["bench-report", rest @ ..] => {
            let date = |name: &str| flag(rest, name).and_then(|v| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok());
            let reps = flag(rest, "--reps").and_then(|v| v.parse().ok()).unwrap_or(5);
            let program = flag(rest, "--program").unwrap_or("housework");
            println!("{}", naju_helper::bench::report_timing(&Config::from_env()?, program, date("--from"), date("--to"), reps)?);
            Ok(())
        }
        ["routes"] => {
            for route in naju_helper::startup::routes() {
                println!("{:<5} {}", route.method, route.pattern);
            }
            Ok(())
        }
        ["help"] | ["--help"] | ["-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown command\n\n{USAGE}")),
    }
}

fn print_demo_logins() {
    println!("데모 계정 / demo logins:");
    for login in demo::LOGINS {
        println!("  {:<10} {:<30} {}", login.role, login.email, login.password);
    }
}

fn serve() -> Result<(), String> {
    let config = Config::from_env()?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config.clone()).map_err(|e| e.to_string())?;
        if app.demo_loaded {
            print_demo_logins();
        }
        let shown_host = config.bind_addr.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
        println!("naju-helper: http://{}:{}  (Ctrl+C to stop)", shown_host, app.port());
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn flag<'a>(args: &'a [&'a str], name: &str) -> Option<&'a str> {
    args.iter().position(|a| *a == name).and_then(|i| args.get(i + 1)).copied()
}

fn add_user(args: &[&str]) -> Result<(), String> {
    let role = flag(args, "--role").and_then(Role::parse).ok_or("--role staff|contractor|resident is required")?;
    if flag(args, "--agency").is_some() && role != Role::Contractor {
        return Err("--agency is for contractor accounts".into());
    }
    let password = flag(args, "--password")
        .map(str::to_string)
        .or_else(|| std::env::var("NAJU_PASSWORD").ok())
        .ok_or("give --password or set NAJU_PASSWORD")?;
    let input = AccountInput {
        name: flag(args, "--name").unwrap_or_default().to_string(),
        email: flag(args, "--email").unwrap_or_default().to_string(),
        phone: flag(args, "--phone").unwrap_or_default().to_string(),
        password_confirm: password.clone(),
        password,
    };
    let config = Config::from_env()?;
    let core = Core::open(&config).map_err(|e| e.to_string())?;
    let i18n = &core.i18n;
    let valid = service::validate(&input).map_err(|errors| {
        errors
            .iter()
            .map(|(field, key)| format!("{field}: {} / {}", i18n.t(Lang::Ko, key), i18n.t(Lang::En, key)))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let password_hash = naju_helper::accounts::password::hash(valid.password.expose()).map_err(|e| e.to_string())?;
    let mut conn = core.pool.get().map_err(|e| e.to_string())?;
    let agency_id = match flag(args, "--agency") {
        Some(code) => Some(naju_helper::agencies::id_of(&mut conn, code).map_err(|e| e.to_string())?.ok_or_else(|| format!("no agency with code {code:?}: import a city file that has it"))?),
        None => None,
    };
    let user = service::create_account(
        &mut conn,
        &core.notifier,
        NewAccount {
            account: valid.profile(),
            role,
            is_supervisor: args.contains(&"--supervisor"),
            lang: Lang::Ko,
            email_kind: None,
            password_hash: &password_hash,
            agency_id: agency_id.as_deref(),
        },
    )
    .map_err(|e| match e {
        naju_helper::error::AppError::Conflict(key) => i18n.t(Lang::En, key),
        other => other.to_string(),
    })?;
    println!("created {} account {}", user.role, user.id);
    Ok(())
}

fn report(args: &[&str]) -> Result<(), String> {
    use naju_helper::results::{calc::Period, export, service};
    let program = flag(args, "--program").ok_or("--program housework|saturday_clinic is required")?;
    if !naju_helper::results::routes::PROGRAMS.contains(&program) {
        return Err(format!("unknown program {program:?} (housework, saturday_clinic)"));
    }
    let lang = flag(args, "--lang").and_then(Lang::from_code).unwrap_or(Lang::Ko);
    let date = |name: &str| -> Result<Option<chrono::NaiveDate>, String> {
        flag(args, name)
            .map(|v| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| format!("{name}: use YYYY-MM-DD")))
            .transpose()
    };
    let (from, to) = (date("--from")?, date("--to")?);
    let config = Config::from_env()?;
    let core = Core::open(&config).map_err(|e| e.to_string())?;
    let mut conn = core.pool.get().map_err(|e| e.to_string())?;
    let term = service::settings(&mut conn, program).map_err(|e| e.to_string())?.term;
    let period = Period { start: from.unwrap_or(term.start), end: to.unwrap_or(term.end) };
    if period.end < period.start {
        return Err("--to is before --from".into());
    }
    let r = service::report(&mut conn, program, period, lang).map_err(|e| e.to_string())?;
    let bytes = match flag(args, "--format").unwrap_or("csv") {
        "json" => export::to_json(&r).map_err(|e| e.to_string())?.into_bytes(),
        "xlsx" => export::to_xlsx(&r, &core.i18n, lang).map_err(|e| e.to_string())?,
        "csv" => export::to_csv(&r, &core.i18n, lang, flag(args, "--table").unwrap_or("summary")).map_err(|e| e.to_string())?,
        other => return Err(format!("unknown format {other:?} (csv, xlsx, json)")),
    };
    match flag(args, "--out") {
        Some(path) => std::fs::write(path, bytes).map_err(|e| format!("{path}: {e}")),
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes).map_err(|e| e.to_string())
        }
    }
}

fn city_import(name: &str, text: &str) -> Result<(), String> {
    let file = naju_helper::city::parse(text).map_err(|e| format!("{name}: {e}\nnothing was changed"))?;
    let config = Config::from_env()?;
    let core = Core::open(&config).map_err(|e| e.to_string())?;
    let mut conn = core.pool.get().map_err(|e| e.to_string())?;
    let s = naju_helper::city::import::apply(&mut conn, &file, naju_helper::time::today_seoul()).map_err(|e| e.to_string())?;
    println!(
        "imported {name}: {} new rule versions, {} agencies, {} clinic programs, {} indicators",
        s.rule_versions_added, s.agencies, s.clinic_programs, s.indicators
    );
    Ok(())
}

fn city_export(out: Option<&str>) -> Result<(), String> {
    let config = Config::from_env()?;
    let core = Core::open(&config).map_err(|e| e.to_string())?;
    let mut conn = core.pool.get().map_err(|e| e.to_string())?;
    let file = naju_helper::city::export::read(&mut conn).map_err(|e| e.to_string())?.ok_or("no city is set up yet: import a city file first")?;
    let text = naju_helper::city::export::to_toml(&file).map_err(|e| e.to_string())?;
    match out {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("{path}: {e}")),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn results_rebuild() -> Result<(), String> {
    let config = Config::from_env()?;
    let core = Core::open(&config).map_err(|e| e.to_string())?;
    let mut conn = core.pool.get().map_err(|e| e.to_string())?;
    let rebuilt = naju_helper::results::rollup::rebuild(&mut conn).map_err(|e| e.to_string())?;
    for c in &rebuilt.changes {
        let subject = if c.subject.is_empty() { String::new() } else { format!(" {}", c.subject) };
        println!("{} {}{subject}: {} -> {}", c.day, c.measure, c.was, c.now);
    }
    println!("results rebuilt: {} figures from the raw records, {} changed", rebuilt.figures, rebuilt.changes.len());
    Ok(())
}

fn import_results(file: &str) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
    let text = naju_helper::results::import::decode(&bytes).ok_or_else(|| format!("{file}: not UTF-8 or EUC-KR (CP949) text"))?;
    let config = Config::from_env()?;
    let core = Core::open(&config).map_err(|e| e.to_string())?;
    let mut conn = core.pool.get().map_err(|e| e.to_string())?;
    let report = naju_helper::results::import::import_csv(&mut conn, &text, None).map_err(|e| e.to_string())?;
    if report.errors.is_empty() {
        println!("imported {} lines", report.imported);
        Ok(())
    } else {
        let lines: Vec<String> = report.errors.iter().map(|(n, key, text)| format!("line {n}: {} ({text})", core.i18n.t(Lang::En, key))).collect();
        Err(format!("nothing imported:\n{}", lines.join("\n")))
    }
}

fn retention(run: bool, args: &[&str]) -> Result<(), String> {
    use naju_helper::retention::service;
    let as_of = match flag(args, "--as-of") {
        Some(v) => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| "--as-of: use YYYY-MM-DD".to_string())?,
        None => naju_helper::time::today_seoul(),
    };
    let config = Config::from_env()?;
    let core = Core::open(&config).map_err(|e| e.to_string())?;
    let mut conn = core.pool.get().map_err(|e| e.to_string())?;
    if run {
        let r = service::run(&mut conn, as_of, service::Trigger::Cli, None, naju_helper::time::now_utc())
            .map_err(|e| e.to_string())?
            .ok_or("the run did not take place")?;
        println!(
            "retention run {} as of {}: applications {}, documents {}, sessions {}, password_resets {}, signups {}, outbox {}, access_log {}",
            r.id, r.as_of, r.applications, r.documents, r.sessions, r.password_resets, r.signups, r.outbox, r.access_log
        );
    } else {
        let p = service::preview(&mut conn, as_of).map_err(|e| e.to_string())?;
        println!("retention preview as of {}", p.as_of);
        for k in p.kinds {
            println!("  {:<16} {:>5} days  cut-off {}  {}", k.kind, k.days, k.cutoff, k.count);
        }
    }
    Ok(())
}
