//! The compiled expression tree and its evaluation, with RocketMQ's three-valued logic:
//! a missing property is NULL, most operators give NULL on a NULL operand, and only a
//! result of exactly TRUE selects a message.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use crate::value::{java_compare, parse_double, Value};
use crate::{Context, EvalError};

/// A literal: what `ConstantExpression` holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(Box<str>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Literal(Literal),
    Property(Box<str>),
    /// Unary minus: numbers negate (Java's wrapping), anything else is NULL.
    Negate(Box<Expr>),
    Not(Box<Expr>),
    /// A bare property used as a condition: TRUE/FALSE only for a boolean value, and
    /// property values are strings, so a present property is FALSE.
    BoolCast(Box<Expr>),
    /// `a AND b AND c` kept flat (evaluated left to right as Java's left-nested tree).
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Equal(Box<Expr>, Box<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    In {
        property: Box<str>,
        values: Vec<Box<str>>,
        not: bool,
    },
    Text {
        op: TextOp,
        not: bool,
        operand: Box<Expr>,
        search: Box<str>,
    },
}

impl Expr {
    /// Java's `BooleanExpression`: what may stand where a condition is expected.
    pub fn is_boolean(&self) -> bool {
        match self {
            Expr::Literal(literal) => matches!(literal, Literal::Bool(_) | Literal::Null),
            Expr::Property(_) | Expr::Negate(_) => false,
            _ => true,
        }
    }

    pub fn evaluate<'a, C: Context + ?Sized>(&'a self, ctx: &'a C) -> Result<Value<'a>, EvalError> {
        Ok(match self {
            Expr::Literal(literal) => match literal {
                Literal::Null => Value::Null,
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Int(i) => Value::Int(*i),
                Literal::Long(l) => Value::Long(*l),
                Literal::Double(d) => Value::Double(*d),
                Literal::Str(s) => Value::Str(Cow::Borrowed(s)),
            },
            Expr::Property(name) => ctx.get(name).map_or(Value::Null, Value::Str),
            Expr::Negate(operand) => match operand.evaluate(ctx)? {
                Value::Int(i) => Value::Int(i.wrapping_neg()),
                Value::Long(l) => Value::Long(l.wrapping_neg()),
                Value::Double(d) => Value::Double(-d),
                _ => Value::Null,
            },
            Expr::Not(operand) => match as_bool(operand.evaluate(ctx)?)? {
                Some(b) => Value::Bool(!b),
                None => Value::Null,
            },
            Expr::BoolCast(operand) => match operand.evaluate(ctx)? {
                Value::Null => Value::Null,
                Value::Bool(b) => Value::Bool(b),
                _ => Value::Bool(false),
            },
            Expr::And(operands) => logic(operands, ctx, false)?,
            Expr::Or(operands) => logic(operands, ctx, true)?,
            Expr::Equal(left, right) => {
                let lv = left.evaluate(ctx)?;
                let rv = right.evaluate(ctx)?;
                match (&lv, &rv) {
                    (Value::Null, Value::Null) => Value::Bool(true),
                    (Value::Null, _) => Value::Null,
                    (_, Value::Null) => Value::Bool(false),
                    _ if lv.java_equals(&rv) => Value::Bool(true),
                    _ => Value::Bool(java_compare(&lv, &rv)? == Ordering::Equal),
                }
            }
            Expr::Compare(op, left, right) => {
                let lv = left.evaluate(ctx)?;
                if lv == Value::Null {
                    return Ok(Value::Null);
                }
                let rv = right.evaluate(ctx)?;
                if rv == Value::Null {
                    return Ok(Value::Null);
                }
                let order = match (&lv, &rv) {
                    // Strings are never ordered as text: both must read as doubles.
                    (Value::Str(a), Value::Str(b)) => {
                        let (a, b) = (parse_double(a), parse_double(b));
                        let (Ok(a), Ok(b)) = (a, b) else {
                            return Err(EvalError::new(
                                "It's illegal to compare string by '>=', '>', '<', '<='",
                            ));
                        };
                        crate::value::java_double_cmp(a, b)
                    }
                    _ => java_compare(&lv, &rv)?,
                };
                Value::Bool(match op {
                    CmpOp::Gt => order == Ordering::Greater,
                    CmpOp::Ge => order != Ordering::Less,
                    CmpOp::Lt => order == Ordering::Less,
                    CmpOp::Le => order != Ordering::Greater,
                })
            }
            Expr::In {
                property,
                values,
                not,
            } => match ctx.get(property) {
                None => Value::Null,
                Some(value) => Value::Bool(values.iter().any(|v| **v == *value) ^ not),
            },
            Expr::Text {
                op,
                not,
                operand,
                search,
            } => {
                if search.is_empty() {
                    return Ok(Value::Bool(false));
                }
                let Value::Str(value) = operand.evaluate(ctx)? else {
                    return Ok(Value::Bool(false)); // NULL and non-strings: FALSE, even negated.
                };
                let hit = match op {
                    TextOp::Contains => value.contains(&**search),
                    TextOp::StartsWith => value.starts_with(&**search),
                    TextOp::EndsWith => value.ends_with(&**search),
                };
                Value::Bool(hit ^ not)
            }
        })
    }
}

/// Java casts each operand to Boolean; anything else would be a ClassCastException.
fn as_bool(value: Value<'_>) -> Result<Option<bool>, EvalError> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        other => Err(EvalError::new(format!("{other:?} is not a boolean"))),
    }
}

/// AND (`decisive` false) or OR (`decisive` true) over a left-nested chain: the first
/// decisive operand ends it; otherwise NULL if any operand was NULL.
fn logic<'a, C: Context + ?Sized>(
    operands: &'a [Expr],
    ctx: &'a C,
    decisive: bool,
) -> Result<Value<'a>, EvalError> {
    let mut saw_null = false;
    for operand in operands {
        match as_bool(operand.evaluate(ctx)?)? {
            Some(b) if b == decisive => return Ok(Value::Bool(decisive)),
            Some(_) => {}
            None => saw_null = true,
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Bool(!decisive)
    })
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("NULL"),
            Literal::Bool(true) => f.write_str("TRUE"),
            Literal::Bool(false) => f.write_str("FALSE"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Long(l) => write!(f, "{l}"),
            Literal::Double(d) => write!(f, "{d:?}"),
            Literal::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str| {
            f.write_str("(")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, " {sep} ")?;
                }
                write!(f, "{item}")?;
            }
            f.write_str(")")
        };
        match self {
            Expr::Literal(literal) => write!(f, "{literal}"),
            Expr::Property(name) => f.write_str(name),
            Expr::Negate(e) => write!(f, "(- {e})"),
            Expr::Not(e) => write!(f, "(NOT {e})"),
            Expr::BoolCast(e) => write!(f, "{e}"),
            Expr::And(items) => join(f, items, "AND"),
            Expr::Or(items) => join(f, items, "OR"),
            Expr::Equal(l, r) => write!(f, "({l} = {r})"),
            Expr::Compare(op, l, r) => {
                let op = match op {
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                };
                write!(f, "({l} {op} {r})")
            }
            Expr::In {
                property,
                values,
                not,
            } => {
                let op = if *not { "NOT IN" } else { "IN" };
                let list: Vec<String> = values
                    .iter()
                    .map(|v| format!("'{}'", v.replace('\'', "''")))
                    .collect();
                write!(f, "{property} {op} ({})", list.join(", "))
            }
            Expr::Text {
                op,
                not,
                operand,
                search,
            } => {
                let op = match op {
                    TextOp::Contains => "CONTAINS",
                    TextOp::StartsWith => "STARTSWITH",
                    TextOp::EndsWith => "ENDSWITH",
                };
                let not = if *not { "NOT " } else { "" };
                write!(f, "({operand} {not}{op} '{}')", search.replace('\'', "''"))
            }
        }
    }
}
