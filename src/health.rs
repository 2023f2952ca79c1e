//! What each part of a running Podium says about itself, for `/healthz`:
//! the networks set their state here ("syncing", "cannot sync: ..."), the
//! web page reads it.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

#[derive(Clone, Debug, Default)]
pub struct Health {
    parts: Arc<RwLock<BTreeMap<String, State>>>,
}

/// One part's state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct State {
    pub ok: bool,
    pub detail: String,
}

impl Health {
    pub fn set(&self, part: &str, ok: bool, detail: impl Into<String>) {
        let mut parts = self
            .parts
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        parts.insert(
            part.to_owned(),
            State {
                ok,
                detail: detail.into(),
            },
        );
    }

    pub fn snapshot(&self) -> BTreeMap<String, State> {
        self.parts
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
