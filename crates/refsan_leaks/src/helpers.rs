//! The Python side of `refsan leaks`: plain Python files kept in the
//! crate under `python/refsan_helpers/`, embedded in the binary and
//! written to a temporary directory for each run.

use crate::error::LeaksError;
use std::fs;
use std::path::{Path, PathBuf};

/// Name of the Python package the helpers are written as.
pub const PACKAGE: &str = "refsan_helpers";
/// `python -m` target of the standalone harness.
pub const HARNESS_MODULE: &str = "refsan_helpers.leak_harness";
/// `pytest -p` name of the plugin.
pub const PYTEST_PLUGIN: &str = "refsan_helpers.refsan_pytest_plugin";
/// Environment variable naming the plugin's JSON settings.
pub const PYTEST_CONFIG_ENV: &str = "REFSAN_LEAKS_CONFIG";

const FILES: [(&str, &str); 3] = [
    (
        "__init__.py",
        include_str!("../python/refsan_helpers/__init__.py"),
    ),
    (
        "leak_harness.py",
        include_str!("../python/refsan_helpers/leak_harness.py"),
    ),
    (
        "refsan_pytest_plugin.py",
        include_str!("../python/refsan_helpers/refsan_pytest_plugin.py"),
    ),
];

/// A temporary directory holding the helpers package; removed on drop.
pub struct HelperDir {
    dir: tempfile::TempDir,
}

impl HelperDir {
    pub fn create() -> Result<Self, LeaksError> {
        let dir = tempfile::Builder::new()
            .prefix("refsan-leaks-")
            .tempdir()
            .map_err(LeaksError::TempDir)?;
        let package = dir.path().join(PACKAGE);
        fs::create_dir(&package).map_err(|source| LeaksError::Write {
            path: package.clone(),
            source,
        })?;
        for (name, text) in FILES {
            let path = package.join(name);
            fs::write(&path, text).map_err(|source| LeaksError::Write { path, source })?;
        }
        Ok(HelperDir { dir })
    }

    /// The directory to put on `PYTHONPATH`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A file in the directory (config, events).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_an_importable_package() {
        let helpers = HelperDir::create().unwrap();
        for (name, text) in FILES {
            let written = fs::read_to_string(helpers.path().join(PACKAGE).join(name)).unwrap();
            assert_eq!(written, text);
        }
        assert!(FILES[1].1.contains("def measure("));
        assert!(FILES[2].1.contains("def pytest_configure("));
    }
}
