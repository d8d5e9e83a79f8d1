//! Tokens of RocketMQ's SQL92 selector (`SelectorParser.jj`): keywords and identifiers are
//! case-insensitive, strings use single quotes with `''` for a quote, `--` comments run to
//! a line end (and need one), `/* */` comments anywhere whitespace may be.
//!
//! Tokens are produced on demand, as javacc does: a lexical error past the end of a
//! complete expression is only seen if the parser had to look at that token.

use crate::ParseError;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    Contains,
    StartsWith,
    EndsWith,
    /// `DECIMAL_LITERAL`, with its optional `L` suffix still attached.
    Decimal(String),
    Float(String),
    Str(String),
    Id(String),
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Eof,
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Tok::Not => "NOT",
            Tok::And => "AND",
            Tok::Or => "OR",
            Tok::Between => "BETWEEN",
            Tok::In => "IN",
            Tok::True => "TRUE",
            Tok::False => "FALSE",
            Tok::Null => "NULL",
            Tok::Is => "IS",
            Tok::Contains => "CONTAINS",
            Tok::StartsWith => "STARTSWITH",
            Tok::EndsWith => "ENDSWITH",
            Tok::Decimal(s) | Tok::Float(s) | Tok::Id(s) => s,
            Tok::Str(s) => return write!(f, "'{}'", s.replace('\'', "''")),
            Tok::Eq => "=",
            Tok::Ne => "<>",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Eof => "<EOF>",
        };
        f.write_str(text)
    }
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    /// 1-based character column where the token starts (errors name it).
    pub column: usize,
}

pub struct Lexer<'a> {
    src: &'a str,
    at: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, at: 0 }
    }

    fn column(&self, byte: usize) -> usize {
        self.src[..byte].chars().count() + 1
    }

    fn error(&self, byte: usize, what: &str) -> ParseError {
        ParseError::new(format!(
            "Lexical error at column {}: {what}",
            self.column(byte)
        ))
    }

    fn rest(&self) -> &'a [u8] {
        &self.src.as_bytes()[self.at..]
    }

    /// Skips white space and comments.
    fn skip(&mut self) -> Result<(), ParseError> {
        loop {
            let rest = self.rest();
            match rest {
                [b' ' | b'\t' | b'\n' | b'\r' | 0x0c, ..] => self.at += 1,
                [b'-', b'-', tail @ ..] => {
                    // javacc's LINE_COMMENT needs its line end; without one, `--` is two
                    // minus signs (and a parse error later).
                    match tail.iter().position(|b| *b == b'\n' || *b == b'\r') {
                        Some(end) => self.at += 2 + end + 1,
                        None => return Ok(()),
                    }
                }
                [b'/', b'*', tail @ ..] => match find(tail, b"*/") {
                    Some(end) => self.at += 2 + end + 2,
                    None => return Err(self.error(self.at, "unterminated /* comment")),
                },
                _ => return Ok(()),
            }
        }
    }

    pub fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip()?;
        let start = self.at;
        let column = self.column(start);
        let rest = self.rest();
        let Some(&first) = rest.first() else {
            return Ok(Token {
                tok: Tok::Eof,
                column,
            });
        };
        let (tok, len) = match first {
            b'=' => (Tok::Eq, 1),
            b'<' if rest.get(1) == Some(&b'>') => (Tok::Ne, 2),
            b'<' if rest.get(1) == Some(&b'=') => (Tok::Le, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if rest.get(1) == Some(&b'=') => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b',' => (Tok::Comma, 1),
            b'+' => (Tok::Plus, 1),
            b'-' => (Tok::Minus, 1),
            b'\'' => self.string()?,
            b'0'..=b'9' | b'.' => self.number()?,
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' => {
                let len = rest
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$'))
                    .unwrap_or(rest.len());
                let word = &self.src[start..start + len];
                (
                    keyword(word).unwrap_or_else(|| Tok::Id(word.to_owned())),
                    len,
                )
            }
            _ => {
                let c = self.src[start..].chars().next().unwrap_or('?');
                return Err(self.error(start, &format!("unexpected character {c:?}")));
            }
        };
        self.at += len;
        Ok(Token { tok, column })
    }

    /// `'...'` with `''` standing for one quote; any other character, newlines included.
    fn string(&self) -> Result<(Tok, usize), ParseError> {
        let rest = &self.src[self.at..];
        let mut value = String::new();
        let mut chars = rest.char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if matches!(chars.peek(), Some((_, '\''))) {
                    chars.next();
                    value.push('\'');
                    continue;
                }
                return Ok((Tok::Str(value), i + 1));
            }
            value.push(c);
        }
        Err(self.error(self.at, "unterminated string literal"))
    }

    /// The longest of `DECIMAL_LITERAL` (`0`, or `[1-9][0-9]*` with an optional `L`) and
    /// `FLOATING_POINT_LITERAL` (`5.`, `5.5`, `.5`, `5E10`, each with an optional exponent).
    fn number(&self) -> Result<(Tok, usize), ParseError> {
        let rest = self.rest();
        let digits = |from: usize| {
            rest[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let exponent = |from: usize| -> usize {
            if !matches!(rest.get(from), Some(b'e' | b'E')) {
                return 0;
            }
            let sign = usize::from(matches!(rest.get(from + 1), Some(b'+' | b'-')));
            let n = digits(from + 1 + sign);
            if n == 0 {
                0
            } else {
                1 + sign + n
            }
        };
        let int = digits(0);
        let decimal = match rest[0] {
            b'0' => 1,
            b'1'..=b'9' => int + usize::from(matches!(rest.get(int), Some(b'l' | b'L'))),
            _ => 0,
        };
        let float = if int > 0 && rest.get(int) == Some(&b'.') {
            let frac = digits(int + 1);
            int + 1 + frac + exponent(int + 1 + frac)
        } else if int == 0 {
            // Starts with '.': needs at least one digit after it.
            let frac = digits(1);
            if frac == 0 {
                0
            } else {
                1 + frac + exponent(1 + frac)
            }
        } else {
            let e = exponent(int);
            if e == 0 {
                0
            } else {
                int + e
            }
        };
        let text = |len: usize| self.src[self.at..self.at + len].to_owned();
        if float > decimal {
            Ok((Tok::Float(text(float)), float))
        } else if decimal > 0 {
            Ok((Tok::Decimal(text(decimal)), decimal))
        } else {
            Err(self.error(self.at, "unexpected character '.'"))
        }
    }
}

fn keyword(word: &str) -> Option<Tok> {
    const KEYWORDS: [(&str, Tok); 12] = [
        ("NOT", Tok::Not),
        ("AND", Tok::And),
        ("OR", Tok::Or),
        ("BETWEEN", Tok::Between),
        ("IN", Tok::In),
        ("TRUE", Tok::True),
        ("FALSE", Tok::False),
        ("NULL", Tok::Null),
        ("IS", Tok::Is),
        ("CONTAINS", Tok::Contains),
        ("STARTSWITH", Tok::StartsWith),
        ("ENDSWITH", Tok::EndsWith),
    ];
    KEYWORDS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|(_, tok)| tok.clone())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token().unwrap();
            if token.tok == Tok::Eof {
                return out;
            }
            out.push(token.tok);
        }
    }

    #[test]
    fn numbers_take_the_longest_match() {
        assert_eq!(toks("12L"), vec![Tok::Decimal("12L".into())]);
        assert_eq!(toks("5."), vec![Tok::Float("5.".into())]);
        assert_eq!(toks(".5e-3"), vec![Tok::Float(".5e-3".into())]);
        assert_eq!(toks("5E10"), vec![Tok::Float("5E10".into())]);
        assert_eq!(
            toks("007"),
            vec![
                Tok::Decimal("0".into()),
                Tok::Decimal("0".into()),
                Tok::Decimal("7".into())
            ]
        );
        assert_eq!(
            toks("1e"),
            vec![Tok::Decimal("1".into()), Tok::Id("e".into())]
        );
    }

    #[test]
    fn keywords_ignore_case_but_longer_words_are_names() {
        assert_eq!(toks("between"), vec![Tok::Between]);
        assert_eq!(toks("Tags"), vec![Tok::Id("Tags".into())]);
        assert_eq!(toks("INx"), vec![Tok::Id("INx".into())]);
    }

    #[test]
    fn strings_comments_and_operators() {
        assert_eq!(toks("'it''s'"), vec![Tok::Str("it's".into())]);
        assert_eq!(
            toks("a<>b/* c */<= -- x\n>="),
            vec![
                Tok::Id("a".into()),
                Tok::Ne,
                Tok::Id("b".into()),
                Tok::Le,
                Tok::Ge
            ]
        );
        // A line comment without a line end is two minus signs.
        assert_eq!(
            toks("--x"),
            vec![Tok::Minus, Tok::Minus, Tok::Id("x".into())]
        );
        assert!(Lexer::new("'open").next_token().is_err());
        assert!(Lexer::new("#").next_token().is_err());
        assert!(Lexer::new("/* open").next_token().is_err());
    }
}
