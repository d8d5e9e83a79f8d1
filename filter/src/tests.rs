//! Grammar and semantics, case by case against what RocketMQ's Java classes do.

use crate::{Selector, MAX_NESTING};

fn eval(expr: &str, props: &[(&str, &str)]) -> Option<bool> {
    Selector::compile(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .evaluate(props)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn fails_eval(expr: &str, props: &[(&str, &str)]) -> bool {
    let selector = Selector::compile(expr).unwrap();
    selector.evaluate(props).is_err() && !selector.matches(props)
}

fn refused(expr: &str) -> String {
    match Selector::compile(expr) {
        Ok(s) => panic!("{expr} compiled to {s}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_brief_example() {
    let sql = "a BETWEEN 1 AND 3 AND b = 'x'";
    assert_eq!(eval(sql, &[("a", "1"), ("b", "x")]), Some(true));
    assert_eq!(eval(sql, &[("a", "3"), ("b", "x")]), Some(true));
    assert_eq!(eval(sql, &[("a", "4"), ("b", "x")]), Some(false));
    assert_eq!(eval(sql, &[("a", "2"), ("b", "y")]), Some(false));
    assert_eq!(eval(sql, &[("b", "x")]), None);
    // "2.5" is not an Integer: Java's Integer.valueOf throws, so no match.
    assert!(fails_eval(sql, &[("a", "2.5"), ("b", "x")]));
}

#[test]
fn comparisons_and_numbers() {
    assert_eq!(eval("a > 1", &[("a", "2")]), Some(true));
    assert_eq!(eval("a >= 2", &[("a", "2")]), Some(true));
    assert_eq!(eval("a < 2.5", &[("a", "2.4")]), Some(true));
    assert_eq!(eval("a <= -1", &[("a", "-1")]), Some(true));
    assert_eq!(eval("a > 1", &[]), None);
    assert_eq!(eval("a = 10000000000", &[("a", "10000000000")]), Some(true));
    assert_eq!(eval("a = 5L", &[("a", "5")]), Some(true));
    assert_eq!(eval("a <> 5", &[("a", "6")]), Some(true));
    assert_eq!(eval("a <> 5", &[]), None);
    // Two properties: strings compared with < must both read as doubles.
    assert_eq!(eval("a < b", &[("a", "1"), ("b", "1.5")]), Some(true));
    assert!(fails_eval("a < b", &[("a", "x"), ("b", "1")]));
    assert_eq!(eval("a = b", &[("a", "x"), ("b", "x")]), Some(true));
    assert!(fails_eval("a > 1", &[("a", "abc")]));
    assert!(fails_eval("a = 1", &[("a", "abc")]));
    assert_eq!(eval("a = 1.0", &[("a", "1")]), Some(true));
    assert_eq!(eval("1 < 2", &[]), Some(true));
    assert_eq!(eval("1 = 1.0", &[]), Some(true));
    assert_eq!(eval("- a = 1", &[("a", "1")]), None); // -'1' is NULL: not a number
    assert_eq!(eval("-(-2) = 2", &[]), Some(true));
}

#[test]
fn strings_booleans_and_bare_properties() {
    assert_eq!(eval("b = 'it''s'", &[("b", "it's")]), Some(true));
    assert_eq!(eval("b = 'x'", &[]), None);
    assert_eq!(eval("'x' = b", &[]), Some(false));
    assert_eq!(eval("flag = TRUE", &[("flag", "TRUE")]), Some(true));
    assert_eq!(eval("flag = TRUE", &[("flag", "yes")]), Some(false));
    assert_eq!(eval("flag = FALSE", &[("flag", "no")]), Some(true));
    // A property used as a condition is a string, never TRUE.
    assert_eq!(eval("flag", &[("flag", "true")]), Some(false));
    assert_eq!(eval("NOT flag", &[("flag", "true")]), Some(true));
    assert_eq!(eval("flag", &[]), None);
    assert_eq!(eval("TRUE", &[]), Some(true));
    assert_eq!(eval("NULL", &[]), None);
    // TRUE on the left of a string: Java's ClassCastException.
    assert!(fails_eval("TRUE = flag", &[("flag", "true")]));
    assert_eq!(eval("TAGS = 'TagA'", &[("TAGS", "TagA")]), Some(true));
}

#[test]
fn null_checks_and_three_valued_logic() {
    assert_eq!(eval("a IS NULL", &[]), Some(true));
    assert_eq!(eval("a IS NOT NULL", &[("a", "")]), Some(true));
    assert_eq!(eval("a is not null", &[]), Some(false));
    assert_eq!(eval("a = 1 OR b = 'x'", &[("b", "x")]), Some(true));
    assert_eq!(eval("a = 1 OR b = 'x'", &[("b", "y")]), None);
    assert_eq!(eval("a = 1 AND b = 'x'", &[("b", "y")]), Some(false));
    assert_eq!(eval("a = 1 AND b = 'x'", &[("b", "x")]), None);
    assert_eq!(eval("NOT (a = 1)", &[]), None);
    // A failing operand after a decisive one is never evaluated.
    assert_eq!(
        eval("b = 'y' AND a > 1", &[("a", "z"), ("b", "x")]),
        Some(false)
    );
    assert_eq!(
        eval("b = 'x' OR a > 1", &[("a", "z"), ("b", "x")]),
        Some(true)
    );
}

#[test]
fn between_in_and_text_operators() {
    assert_eq!(eval("a NOT BETWEEN 1 AND 3", &[("a", "4")]), Some(true));
    assert_eq!(eval("a NOT BETWEEN 1 AND 3", &[("a", "2")]), Some(false));
    assert_eq!(eval("a NOT BETWEEN 1 AND 3", &[]), None);
    assert_eq!(eval("r IN ('x', 'y')", &[("r", "y")]), Some(true));
    assert_eq!(eval("r IN ('x', 'y')", &[("r", "z")]), Some(false));
    assert_eq!(eval("r NOT IN ('x', 'y')", &[("r", "z")]), Some(true));
    assert_eq!(eval("r NOT IN ('x')", &[]), None);
    assert_eq!(eval("s CONTAINS 'ell'", &[("s", "hello")]), Some(true));
    assert_eq!(eval("s STARTSWITH 'he'", &[("s", "hello")]), Some(true));
    assert_eq!(eval("s ENDSWITH 'lo'", &[("s", "hello")]), Some(true));
    assert_eq!(eval("s NOT CONTAINS 'z'", &[("s", "hello")]), Some(true));
    // NULL gives FALSE (not NULL) for the text operators, negated or not.
    assert_eq!(eval("s NOT CONTAINS 'z'", &[]), Some(false));
    assert_eq!(eval("s CONTAINS ''", &[("s", "x")]), Some(false));
    assert_eq!(eval("s NOT ENDSWITH ''", &[("s", "x")]), Some(false));
}

#[test]
fn comments_case_and_trailing_tokens() {
    assert_eq!(
        eval(
            "a = 1 /* c */ and -- note\n b = 'x'",
            &[("a", "1"), ("b", "x")]
        ),
        Some(true)
    );
    assert_eq!(eval("A between 1 and 3", &[("A", "2")]), Some(true));
    // javacc's parser stops after a complete expression and never reads the rest.
    assert_eq!(eval("a = 1 ) garbage", &[("a", "1")]), Some(true));
    assert_eq!(eval("a = 007", &[("a", "0")]), Some(true)); // tokens 0, 0, 7
}

#[test]
fn compile_errors() {
    for bad in [
        "",
        "a =",
        "a = 1 AND",
        "(a = 1",
        "a = NULL",
        "NULL = a",
        "TRUE = 1",
        "a > 'x'",
        "a > TRUE",
        "(a = 1) > 2",
        "a BETWEEN 3 AND 1",
        "a BETWEEN NULL AND 1",
        "a IN ()",
        "a IN (1)",
        "1 IN ('x')",
        "NOT a IN ('x')",
        "a NOT b",
        "a CONTAINS 1",
        "1",
        "'x'",
        "a = 1 #",
        "a = 'open",
        "a = 0.0",
        "a = 1e999",
        "a = 99999999999999999999",
        "a IS 1",
        "a.b = 1",
    ] {
        refused(bad);
    }
    assert!(refused("a = ").starts_with("Invalid MessageSelector."));
    assert!(refused("1").contains("will not result in a boolean value"));
}

#[test]
fn hostile_nesting_is_refused_without_overflow() {
    let deep = format!("{}a = 1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(refused(&deep).contains("longer") || !refused(&deep).is_empty());
    let nested = format!(
        "{}a = 1{}",
        "(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    assert!(refused(&nested).contains("nests"));
    let ok = format!(
        "{}a = 1{}",
        "(".repeat(MAX_NESTING - 1),
        ")".repeat(MAX_NESTING - 1)
    );
    assert_eq!(eval(&ok, &[("a", "1")]), Some(true));
    let nots = format!("{}a", "NOT ".repeat(1000));
    assert!(refused(&nots).contains("nests"));
    // Long flat chains are fine; long left-nested chains hit the tree limit.
    let chain = vec!["a = 1"; 1000].join(" OR ");
    assert_eq!(eval(&chain, &[("a", "1")]), Some(true));
    let equalities = format!("a{}", " = a".repeat(1000));
    assert!(refused(&equalities).contains("deep"));
    let long = format!("a IN ({})", vec!["'v'"; 10_000].join(","));
    assert!(refused(&long).contains("bytes"));
}
