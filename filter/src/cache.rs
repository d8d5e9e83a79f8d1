//! Compiled selectors per thread (a broker shard is one thread), keyed by the expression
//! text, so a pull does not reparse its subscription. Failures are cached too, as Java's
//! `SelectorParser` does, so a bad expression repeated by a client costs one parse.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::{ParseError, Selector};

/// Entries kept per thread; the oldest goes first when full.
const CAPACITY: usize = 512;

type Compiled = Result<Arc<Selector>, ParseError>;

#[derive(Default)]
struct Cache {
    map: HashMap<Box<str>, Compiled>,
    order: VecDeque<Box<str>>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// `Selector::compile`, remembered for this thread.
pub fn compile_cached(expression: &str) -> Result<Arc<Selector>, ParseError> {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(compiled) = cache.map.get(expression) {
            return compiled.clone();
        }
        let compiled = Selector::compile(expression).map(Arc::new);
        if cache.map.len() >= CAPACITY {
            if let Some(oldest) = cache.order.pop_front() {
                cache.map.remove(&oldest);
            }
        }
        let key: Box<str> = expression.into();
        cache.order.push_back(key.clone());
        cache.map.insert(key, compiled.clone());
        compiled
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_bounded_and_answers_like_compile() {
        for i in 0..CAPACITY + 10 {
            let expr = format!("a = {i}");
            assert!(compile_cached(&expr).is_ok());
        }
        CACHE.with(|cache| {
            let cache = cache.borrow();
            assert_eq!(cache.map.len(), CAPACITY);
            assert_eq!(cache.order.len(), CAPACITY);
        });
        assert!(compile_cached("a = ").is_err());
        assert!(compile_cached("a = ").is_err());
        let first = compile_cached("b = 1").unwrap();
        let second = compile_cached("b = 1").unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }
}
