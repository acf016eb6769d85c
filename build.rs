//! Embeds templates/ and assets/ into the binary, so it runs from any working
//! directory and a deployment is one file.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, base, out);
        } else if let Ok(rel) = path.strip_prefix(base) {
            out.push((rel.to_string_lossy().replace('\\', "/"), path.clone()));
        }
    }
}

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut code = String::new();
    for (name, dir, include, ty) in [
        ("TEMPLATES", "templates", "include_str", "&str"),
        ("ASSETS", "assets", "include_bytes", "&[u8]"),
    ] {
        let base = root.join(dir);
        let mut files = Vec::new();
        walk(&base, &base, &mut files);
        code.push_str(&format!("pub static {name}: &[(&str, {ty})] = &[\n"));
        for (rel, abs) in files {
            code.push_str(&format!("    ({rel:?}, {include}!({:?})),\n", abs.to_string_lossy()));
        }
        code.push_str("];\n");
        println!("cargo:rerun-if-changed={dir}");
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded.rs");
    fs::write(out, code).expect("write embedded.rs");
}
