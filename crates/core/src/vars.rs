//! A snapshot of environment variables, read once at start-up and passed down as data.
//!
//! The same type holds the inherited environment and the environment built for the command.
//! Its `Debug` prints names only, so that no value can reach a log or a panic by accident.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;

use crate::error::Error;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Vars(BTreeMap<OsString, OsString>);

impl Vars {
    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.0.get(OsStr::new(name)).map(OsString::as_os_str)
    }

    /// A setting by name: `None` when unset, an error when it is not UTF-8.
    pub fn setting(&self, name: &'static str) -> Result<Option<&str>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => value.to_str().map(Some).ok_or(Error::NotUnicode(name)),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(OsStr::new(name))
    }

    /// Sets a variable, returning the value it replaces.
    pub fn insert(
        &mut self,
        name: impl Into<OsString>,
        value: impl Into<OsString>,
    ) -> Option<OsString> {
        self.0.insert(name.into(), value.into())
    }

    /// Unsets a variable, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<OsString> {
        self.0.remove(OsStr::new(name))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.0.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<OsString>, V: Into<OsString>> FromIterator<(K, V)> for Vars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Vars(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_names_never_values() {
        let vars: Vars = [("API_KEY", "s3cr3t-value")].into_iter().collect();
        let shown = format!("{vars:?}");
        assert!(shown.contains("API_KEY"));
        assert!(!shown.contains("s3cr3t"));
    }

    #[test]
    fn setting_rejects_non_unicode() {
        use std::os::unix::ffi::OsStringExt;
        let mut vars = Vars::default();
        vars.insert("APP_ENV", OsString::from_vec(vec![0xff, 0xfe]));
        assert!(matches!(
            vars.setting("APP_ENV"),
            Err(Error::NotUnicode("APP_ENV"))
        ));
        assert_eq!(vars.setting("AWS_REGION").ok(), Some(None));
    }
}
