//! RocketMQ's SQL92 message selector (`MessageSelector.bySql`, the broker's
//! `enablePropertyFilter`): the grammar of RocketMQ's `filter` module
//! (`SelectorParser.jj`) and the evaluation semantics of its `expression` classes,
//! reimplemented for the broker's pull path. See docs/sql-filter.md.
//!
//! ```
//! use ramjet_filter::Selector;
//! let selector = Selector::compile("a BETWEEN 1 AND 3 AND b = 'x'").unwrap();
//! assert!(selector.matches(&[("a", "2"), ("b", "x")][..]));
//! assert!(!selector.matches(&[("a", "4"), ("b", "x")][..]));
//! assert!(!selector.matches(&[("b", "x")][..])); // a is NULL: not TRUE
//! ```

mod cache;
mod expr;
mod lexer;
mod parser;
mod properties;
mod value;

use std::borrow::Cow;
use std::fmt;

pub use cache::compile_cached;
pub use properties::RawProperties;
pub use value::Value;

/// The `expressionType` of SQL92 subscriptions (`ExpressionType.SQL92`).
pub const SQL92: &str = "SQL92";

/// Longest expression accepted, in bytes. RocketMQ has no limit; a selector is a short
/// condition, and this keeps the parse and each evaluation cheap.
pub const MAX_EXPRESSION_LEN: usize = 16 * 1024;
/// Deepest nesting of parentheses and unary operators (bounds the parser's recursion).
pub const MAX_NESTING: usize = 64;
/// Deepest operator tree (bounds evaluation's recursion). AND/OR chains count once.
pub const MAX_TREE_DEPTH: usize = 128;

/// Why an expression does not compile; the text goes into the response remark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(String);

impl ParseError {
    fn new(message: impl Into<String>) -> Self {
        ParseError(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid MessageSelector. {}", self.0)
    }
}

impl std::error::Error for ParseError {}

/// An evaluation failure (Java throws: a string that is not a number compared with a
/// number, strings ordered with `<`...). The message does not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError(String);

impl EvalError {
    fn new(message: impl Into<String>) -> Self {
        EvalError(message.into())
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}

/// A message's properties as the selector sees them (`MessageEvaluationContext`).
pub trait Context {
    fn get(&self, name: &str) -> Option<Cow<'_, str>>;
}

/// Pairs, for tests and callers holding decoded properties; the last pair of a name wins,
/// as in Java's property map.
impl Context for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.iter()
            .rev()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| Cow::Borrowed(*value))
    }
}

/// A compiled SQL92 expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    expr: expr::Expr,
}

impl Selector {
    pub fn compile(expression: &str) -> Result<Selector, ParseError> {
        parser::parse(expression).map(|expr| Selector { expr })
    }

    /// The expression's value: TRUE, FALSE or NULL (`None`), or an evaluation error.
    pub fn evaluate<C: Context + ?Sized>(&self, properties: &C) -> Result<Option<bool>, EvalError> {
        match self.expr.evaluate(properties)? {
            Value::Bool(b) => Ok(Some(b)),
            Value::Null => Ok(None),
            other => Err(EvalError::new(format!("{other:?} is not a boolean"))),
        }
    }

    /// `isMatchedByCommitLog`: only TRUE selects; NULL and errors do not.
    pub fn matches<C: Context + ?Sized>(&self, properties: &C) -> bool {
        matches!(self.evaluate(properties), Ok(Some(true)))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

#[cfg(test)]
mod tests;
