//! The parser takes client text: it must answer (Ok or Err) for any input, never panic,
//! and whatever compiles must evaluate without panicking.

use proptest::prelude::*;
use ramjet_filter::Selector;

const ALPHABET: &[&str] = &[
    "a",
    "b",
    "TAGS",
    "1",
    "2.5",
    "0",
    "-",
    "+",
    "(",
    ")",
    "'x'",
    "''",
    "'",
    "=",
    "<>",
    "<",
    ">",
    "<=",
    ">=",
    ",",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "CONTAINS",
    "STARTSWITH",
    "ENDSWITH",
    "--",
    "\n",
    "/*",
    "*/",
    " ",
    ".",
    "e",
    "L",
    "9999999999",
    "\u{e9}",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn arbitrary_strings(text in any::<String>()) {
        let _ = Selector::compile(&text);
    }

    #[test]
    fn token_soup(parts in proptest::collection::vec(proptest::sample::select(ALPHABET), 0..40)) {
        let text = parts.join(" ");
        if let Ok(selector) = Selector::compile(&text) {
            let props: &[(&str, &str)] = &[("a", "1"), ("b", "x"), ("TAGS", "2.5")];
            let _ = selector.evaluate(props);
            let _ = selector.evaluate(&[][..] as &[(&str, &str)]);
            let _ = selector.to_string();
        }
        let glued = parts.concat();
        let _ = Selector::compile(&glued);
    }
}
