//! Recursive descent over `SelectorParser.jj`, production for production:
//!
//! ```text
//! selector    := or                                  (then must be a condition)
//! or          := and ( OR and )*
//! and         := equality ( AND equality )*
//! equality    := comparison ( '=' comparison | '<>' comparison | IS NULL | IS NOT NULL )*
//! comparison  := unary ( ('>'|'>='|'<'|'<=') unary
//!                      | [NOT] (CONTAINS|STARTSWITH|ENDSWITH) string
//!                      | [NOT] BETWEEN unary AND unary
//!                      | [NOT] IN '(' string (',' string)* ')' )*
//! unary       := '+' unary | '-' unary | NOT unary | primary
//! primary     := literal | name | '(' or ')'
//! ```
//!
//! As in javacc's generated parser, tokens after a complete expression are not read
//! (RocketMQ accepts `a = 1 )`), the type checks run as each node is built, and a
//! `NOT` after an operand must start `NOT BETWEEN/IN/CONTAINS/STARTSWITH/ENDSWITH`.
//!
//! Hostile input is bounded: the text length, the nesting of parentheses and unary
//! operators (the parser's recursion), and the depth of the built tree (evaluation's
//! recursion; AND/OR chains are kept flat so long chains stay shallow).

use std::cmp::Ordering;
use std::collections::VecDeque;

use crate::expr::{CmpOp, Expr, Literal, TextOp};
use crate::lexer::{Lexer, Tok, Token};
use crate::value::{java_compare, Value};
use crate::{ParseError, MAX_EXPRESSION_LEN, MAX_NESTING, MAX_TREE_DEPTH};

/// A built node and the depth of its tree.
type Built = (Expr, usize);

pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_EXPRESSION_LEN {
        return Err(ParseError::new(format!(
            "the expression is {} bytes, more than the {MAX_EXPRESSION_LEN} allowed",
            src.len()
        )));
    }
    let mut parser = Parser {
        lexer: Lexer::new(src),
        ahead: VecDeque::new(),
        nesting: 0,
    };
    let (expr, _) = parser.or()?;
    as_condition(expr)
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    ahead: VecDeque<Token>,
    nesting: usize,
}

impl Parser<'_> {
    /// The token `n` places ahead (0 = next), lexing as far as needed.
    fn peek(&mut self, n: usize) -> Result<&Tok, ParseError> {
        while self.ahead.len() <= n {
            let token = self.lexer.next_token()?;
            self.ahead.push_back(token);
        }
        Ok(&self.ahead[n].tok)
    }

    fn bump(&mut self) -> Result<Token, ParseError> {
        self.peek(0)?;
        Ok(self.ahead.pop_front().expect("peeked"))
    }

    fn unexpected(&mut self, expected: &str) -> ParseError {
        match self.bump() {
            Ok(token) => ParseError::new(format!(
                "Encountered \"{}\" at column {}. Was expecting {expected}",
                token.tok, token.column
            )),
            Err(error) => error,
        }
    }

    fn expect(&mut self, tok: Tok) -> Result<(), ParseError> {
        if *self.peek(0)? == tok {
            self.bump()?;
            Ok(())
        } else {
            Err(self.unexpected(&format!("\"{tok}\"")))
        }
    }

    fn string(&mut self) -> Result<Box<str>, ParseError> {
        if let Tok::Str(_) = self.peek(0)? {
            let Tok::Str(s) = self.bump()?.tok else {
                unreachable!("peeked a string")
            };
            Ok(s.into())
        } else {
            Err(self.unexpected("a string literal"))
        }
    }

    fn or(&mut self) -> Result<Built, ParseError> {
        self.chain(Tok::Or, Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Built, ParseError> {
        self.chain(Tok::And, Self::equality, Expr::And)
    }

    /// `first (op next)*`, kept as one flat node.
    fn chain(
        &mut self,
        op: Tok,
        next: fn(&mut Self) -> Result<Built, ParseError>,
        build: fn(Vec<Expr>) -> Expr,
    ) -> Result<Built, ParseError> {
        let (first, mut depth) = next(self)?;
        if *self.peek(0)? != op {
            return Ok((first, depth));
        }
        let mut items = vec![as_condition(first)?];
        while *self.peek(0)? == op {
            self.bump()?;
            let (item, item_depth) = next(self)?;
            items.push(as_condition(item)?);
            depth = depth.max(item_depth);
        }
        node(build(items), depth)
    }

    fn equality(&mut self) -> Result<Built, ParseError> {
        let (mut left, mut depth) = self.comparison()?;
        loop {
            let built = match self.peek(0)? {
                Tok::Eq | Tok::Ne => {
                    let not = self.bump()?.tok == Tok::Ne;
                    let (right, right_depth) = self.comparison()?;
                    let equal = create_equal(left, right)?;
                    depth = depth.max(right_depth);
                    if not {
                        node(equal, depth).and_then(|(e, d)| node(Expr::Not(Box::new(e)), d))?
                    } else {
                        node(equal, depth)?
                    }
                }
                Tok::Is => {
                    self.bump()?;
                    let not = *self.peek(0)? == Tok::Not;
                    if not {
                        self.bump()?;
                    }
                    self.expect(Tok::Null)?;
                    let is_null =
                        Expr::Equal(Box::new(left), Box::new(Expr::Literal(Literal::Null)));
                    if not {
                        node(is_null, depth).and_then(|(e, d)| node(Expr::Not(Box::new(e)), d))?
                    } else {
                        node(is_null, depth)?
                    }
                }
                _ => return Ok((left, depth)),
            };
            (left, depth) = built;
        }
    }

    fn comparison(&mut self) -> Result<Built, ParseError> {
        let (mut left, mut depth) = self.unary()?;
        loop {
            let tok = self.peek(0)?.clone();
            let (expr, new_depth) = match tok {
                Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le => {
                    self.bump()?;
                    let op = match tok {
                        Tok::Gt => CmpOp::Gt,
                        Tok::Ge => CmpOp::Ge,
                        Tok::Lt => CmpOp::Lt,
                        _ => CmpOp::Le,
                    };
                    let (right, right_depth) = self.unary()?;
                    node(create_compare(op, left, right)?, depth.max(right_depth))?
                }
                Tok::Not
                | Tok::Contains
                | Tok::StartsWith
                | Tok::EndsWith
                | Tok::Between
                | Tok::In => {
                    let not = tok == Tok::Not;
                    if not {
                        let second = self.peek(1)?;
                        if !matches!(
                            second,
                            Tok::Contains
                                | Tok::StartsWith
                                | Tok::EndsWith
                                | Tok::Between
                                | Tok::In
                        ) {
                            return Err(self.unexpected(
                                "BETWEEN, IN, CONTAINS, STARTSWITH or ENDSWITH after NOT",
                            ));
                        }
                        self.bump()?;
                    }
                    let op = self.bump()?.tok;
                    match op {
                        Tok::Contains | Tok::StartsWith | Tok::EndsWith => {
                            let search = self.string()?;
                            let op = match op {
                                Tok::Contains => TextOp::Contains,
                                Tok::StartsWith => TextOp::StartsWith,
                                _ => TextOp::EndsWith,
                            };
                            let text = Expr::Text {
                                op,
                                not,
                                operand: Box::new(left),
                                search,
                            };
                            node(text, depth)?
                        }
                        Tok::Between => {
                            let (low, low_depth) = self.unary()?;
                            self.expect(Tok::And)?;
                            let (high, high_depth) = self.unary()?;
                            let depth = depth.max(low_depth).max(high_depth);
                            let between = create_between(left, low, high, not)?;
                            // The comparison nodes under the AND/OR add one level.
                            node(between, depth + 1)?
                        }
                        _ => {
                            self.expect(Tok::LParen)?;
                            let mut values = vec![self.string()?];
                            while *self.peek(0)? == Tok::Comma {
                                self.bump()?;
                                values.push(self.string()?);
                            }
                            self.expect(Tok::RParen)?;
                            let Expr::Property(property) = left else {
                                return Err(ParseError::new(format!(
                                    "Expected a property for In expression, got: {left}"
                                )));
                            };
                            node(
                                Expr::In {
                                    property,
                                    values,
                                    not,
                                },
                                depth,
                            )?
                        }
                    }
                }
                _ => return Ok((left, depth)),
            };
            (left, depth) = (expr, new_depth);
        }
    }

    fn unary(&mut self) -> Result<Built, ParseError> {
        let tok = self.peek(0)?.clone();
        if !matches!(tok, Tok::Plus | Tok::Minus | Tok::Not | Tok::LParen) {
            return self.primary();
        }
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(ParseError::new(format!(
                "the expression nests more than {MAX_NESTING} levels deep"
            )));
        }
        let built = match tok {
            Tok::Plus => {
                self.bump()?;
                self.unary()
            }
            Tok::Minus => {
                self.bump()?;
                let (operand, depth) = self.unary()?;
                node(Expr::Negate(Box::new(operand)), depth)
            }
            Tok::Not => {
                self.bump()?;
                let (operand, depth) = self.unary()?;
                node(Expr::Not(Box::new(as_condition(operand)?)), depth + 1)
            }
            _ => {
                self.bump()?;
                let inner = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(inner)
            }
        };
        self.nesting -= 1;
        built
    }

    fn primary(&mut self) -> Result<Built, ParseError> {
        let expr = match self.peek(0)?.clone() {
            Tok::Str(s) => Expr::Literal(Literal::Str(s.into())),
            Tok::Decimal(text) => Expr::Literal(decimal(&text)?),
            Tok::Float(text) => Expr::Literal(float(&text)?),
            Tok::True => Expr::Literal(Literal::Bool(true)),
            Tok::False => Expr::Literal(Literal::Bool(false)),
            Tok::Null => Expr::Literal(Literal::Null),
            Tok::Id(name) => Expr::Property(name.into()),
            _ => return Err(self.unexpected("a literal, a property name or \"(\"")),
        };
        self.bump()?;
        Ok((expr, 1))
    }
}

/// Wraps a node whose children reach `child_depth`, refusing trees deeper than the limit.
fn node(expr: Expr, child_depth: usize) -> Result<Built, ParseError> {
    let depth = child_depth + 1;
    if depth > MAX_TREE_DEPTH {
        return Err(ParseError::new(format!(
            "the expression nests more than {MAX_TREE_DEPTH} operators deep"
        )));
    }
    Ok((expr, depth))
}

/// `asBooleanExpression`: conditions stay, a bare property is cast, anything else is an
/// error.
fn as_condition(expr: Expr) -> Result<Expr, ParseError> {
    if expr.is_boolean() {
        Ok(expr)
    } else if let Expr::Property(_) = expr {
        Ok(Expr::BoolCast(Box::new(expr)))
    } else {
        Err(ParseError::new(format!(
            "Expression will not result in a boolean value: {expr}"
        )))
    }
}

/// `createFromDecimal`: an optional L suffix; Integer when it fits, else Long.
fn decimal(text: &str) -> Result<Literal, ParseError> {
    let digits = text.trim_end_matches(['l', 'L']);
    let value: i64 = digits
        .parse()
        .map_err(|_| ParseError::new(format!("For input string: \"{digits}\"")))?;
    Ok(i32::try_from(value).map_or(Literal::Long(value), Literal::Int))
}

/// `createFloat`: Java refuses infinity and anything below Double.MIN_VALUE, which
/// includes zero (`0.0` is not a valid literal in RocketMQ).
fn float(text: &str) -> Result<Literal, ParseError> {
    let value: f64 = text
        .parse()
        .map_err(|_| ParseError::new(format!("For input string: \"{text}\"")))?;
    if value > f64::MAX {
        return Err(ParseError::new(format!(
            "{text} is greater than {}",
            f64::MAX
        )));
    }
    if value < 4.9e-324 {
        return Err(ParseError::new(format!("{text} is less than 4.9E-324")));
    }
    Ok(Literal::Double(value))
}

fn literal(expr: &Expr) -> Option<&Literal> {
    match expr {
        Expr::Literal(literal) => Some(literal),
        _ => None,
    }
}

fn literal_value(literal: &Literal) -> Value<'_> {
    match literal {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(i) => Value::Int(*i),
        Literal::Long(l) => Value::Long(*l),
        Literal::Double(d) => Value::Double(*d),
        Literal::Str(s) => Value::Str(std::borrow::Cow::Borrowed(s)),
    }
}

/// `createEqual`: NULL literals cannot be compared (use IS NULL), and a TRUE/FALSE
/// literal cannot be compared with another kind of literal.
fn create_equal(left: Expr, right: Expr) -> Result<Expr, ParseError> {
    for side in [&left, &right] {
        if literal(side) == Some(&Literal::Null) {
            return Err(ParseError::new("'NULL' cannot be compared."));
        }
    }
    if let (Some(_), Some(_)) = (literal(&left), literal(&right)) {
        if left.is_boolean() && !right.is_boolean() {
            return Err(ParseError::new(format!(
                "'{left}' cannot be compared with '{right}'"
            )));
        }
    }
    Ok(Expr::Equal(Box::new(left), Box::new(right)))
}

/// `checkLessThanOperand`: only number literals and non-condition expressions.
fn check_orderable(expr: &Expr) -> Result<(), ParseError> {
    let orderable = match expr {
        Expr::Literal(literal) => {
            matches!(
                literal,
                Literal::Int(_) | Literal::Long(_) | Literal::Double(_)
            )
        }
        _ => !expr.is_boolean(),
    };
    if orderable {
        Ok(())
    } else {
        Err(ParseError::new(format!(
            "Value '{expr}' cannot be compared."
        )))
    }
}

fn create_compare(op: CmpOp, left: Expr, right: Expr) -> Result<Expr, ParseError> {
    check_orderable(&left)?;
    check_orderable(&right)?;
    Ok(Expr::Compare(op, Box::new(left), Box::new(right)))
}

/// `createBetween` / `createNotBetween`: `v >= low AND v <= high`, or
/// `v < low OR v > high`; two literal bounds must not be NULL or out of order.
fn create_between(value: Expr, low: Expr, high: Expr, not: bool) -> Result<Expr, ParseError> {
    if !not {
        if let (Some(lo), Some(hi)) = (literal(&low), literal(&high)) {
            if *lo == Literal::Null || *hi == Literal::Null {
                return Err(ParseError::new(
                    "Illegal values of between, values can not be null!",
                ));
            }
            let order = java_compare(&literal_value(hi), &literal_value(lo))
                .map_err(|e| ParseError::new(e.to_string()))?;
            if order == Ordering::Less {
                return Err(ParseError::new(format!(
                    "Illegal values of between, left value({lo}) must less than or equal to right value({hi})"
                )));
            }
        }
        let ge = create_compare(CmpOp::Ge, value.clone(), low)?;
        let le = create_compare(CmpOp::Le, value, high)?;
        Ok(Expr::And(vec![ge, le]))
    } else {
        let lt = create_compare(CmpOp::Lt, value.clone(), low)?;
        let gt = create_compare(CmpOp::Gt, value, high)?;
        Ok(Expr::Or(vec![lt, gt]))
    }
}
