//! Free-text columns: recognising them and turning a cell into hashed word 1–2-gram counts.
//!
//! Words are runs of letters and digits, lower-cased, of two characters or more (scikit-learn's
//! default token pattern); each word and each pair of neighbouring words is hashed (FNV-1a) into
//! one of `dim` buckets, so no vocabulary has to be kept and unseen words at predict time simply
//! land in some bucket.

/// Mean words per value from which a column with many distinct values counts as free text.
pub const MIN_WORDS: f64 = 3.0;

/// Share of distinct values among the present ones from which a wordy column is free text
/// rather than a category with long labels.
pub const MIN_DISTINCT_SHARE: f64 = 0.5;

/// Whether a text column is free text: several words per value and mostly distinct values.
pub fn is_free_text(values: &[Option<String>], distinct: usize) -> bool {
    let present: Vec<&str> = values.iter().flatten().map(String::as_str).collect();
    if present.len() < 20 || (distinct as f64) < MIN_DISTINCT_SHARE * present.len() as f64 {
        return false;
    }
    let words: usize = present.iter().map(|v| v.split_whitespace().count()).sum();
    words as f64 >= MIN_WORDS * present.len() as f64
}

/// The words of a text, lower-cased.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect()
}

fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h = (h ^ u64::from(b' ')).wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Add the counts of the text's words and word pairs into `out` (one bucket each, `out.len()`
/// buckets).
pub fn hash_counts(text: &str, out: &mut [f64]) {
    let dim = out.len() as u64;
    if dim == 0 {
        return;
    }
    let w = words(text);
    for (i, word) in w.iter().enumerate() {
        out[(fnv(&[word]) % dim) as usize] += 1.0;
        if let Some(next) = w.get(i + 1) {
            out[(fnv(&[word, next]) % dim) as usize] += 1.0;
        }
    }
}

/// Characters and whitespace-separated words of a text.
pub fn lengths(text: &str) -> (f64, f64) {
    (
        text.chars().count() as f64,
        text.split_whitespace().count() as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_alphanumeric_runs() {
        assert_eq!(
            words("Braund, Mr. Owen-Harris a 42"),
            vec!["braund", "mr", "owen", "harris", "42"]
        );
    }

    #[test]
    fn counts_cover_words_and_pairs() {
        let mut out = vec![0.0; 1 << 16];
        hash_counts("good good movie", &mut out);
        // good ×2, movie, "good good", "good movie": five tokens in four distinct buckets.
        assert_eq!(out.iter().sum::<f64>(), 5.0);
        assert_eq!(out.iter().filter(|&&x| x > 0.0).count(), 4);
        let mut again = vec![0.0; 1 << 16];
        hash_counts("GOOD, good movie!", &mut again);
        assert_eq!(out, again);
    }

    #[test]
    fn free_text_needs_words_and_variety() {
        let reviews: Vec<Option<String>> = (0..30)
            .map(|i| Some(format!("review number {i} says fine")))
            .collect();
        assert!(is_free_text(&reviews, 30));
        let names: Vec<Option<String>> = (0..30).map(|i| Some(format!("id{i}"))).collect();
        assert!(!is_free_text(&names, 30));
        let chains: Vec<Option<String>> = (0..30)
            .map(|i| Some(format!("burger king store {}", i % 3)))
            .collect();
        assert!(!is_free_text(&chains, 3));
    }
}
