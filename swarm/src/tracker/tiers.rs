//! Multi-tracker tiers (BEP 12).
//!
//! A torrent's `announce-list` is a list of tiers, each a list of tracker
//! URLs. Each tier is shuffled once, when the list is made. An announce
//! tries the trackers in order: the first tier's, then the second's, and so
//! on, and stops at the first that answers; that tracker moves to the front
//! of its tier, so the next announce starts with it. Empty tiers and URLs
//! already listed are dropped.

use rand::seq::SliceRandom;
use rand::Rng;

/// Tracker tiers in announce order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackerTiers {
    tiers: Vec<Vec<String>>,
}

impl TrackerTiers {
    /// Shuffles each tier with `rng`.
    pub fn new(tiers: Vec<Vec<String>>, rng: &mut impl Rng) -> Self {
        let mut seen = std::collections::HashSet::new();
        let tiers = tiers
            .into_iter()
            .map(|t| {
                let mut t: Vec<String> = t.into_iter().filter(|u| seen.insert(u.clone())).collect();
                t.shuffle(rng);
                t
            })
            .filter(|t| !t.is_empty())
            .collect();
        TrackerTiers { tiers }
    }

    /// The tiers, each in its current order.
    pub fn tiers(&self) -> &[Vec<String>] {
        &self.tiers
    }

    /// No tracker at all.
    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }

    /// Every URL in the order to try them.
    pub fn in_order(&self) -> Vec<String> {
        self.tiers.iter().flatten().cloned().collect()
    }

    /// `url` answered: it moves to the front of its tier (the others keep
    /// their order).
    pub fn answered(&mut self, url: &str) {
        for t in &mut self.tiers {
            if let Some(i) = t.iter().position(|u| u == url) {
                let u = t.remove(i);
                t.insert(0, u);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn urls(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shuffled_once_within_tiers_and_tiers_in_order() {
        let input = vec![
            urls(&["a1", "a2", "a3", "a4", "a5"]),
            vec![],
            urls(&["b1", "b2", "a1"]),
        ];
        let mut orders = std::collections::HashSet::new();
        for seed in 0..50 {
            let t = TrackerTiers::new(input.clone(), &mut StdRng::seed_from_u64(seed));
            assert_eq!(t.tiers().len(), 2, "the empty tier is dropped");
            let mut first = t.tiers()[0].clone();
            orders.insert(first.clone());
            first.sort();
            assert_eq!(first, urls(&["a1", "a2", "a3", "a4", "a5"]));
            let mut second = t.tiers()[1].clone();
            second.sort();
            assert_eq!(second, urls(&["b1", "b2"]), "a1 is listed once");
            // every tier-1 URL before every tier-2 URL
            let order = t.in_order();
            assert!(order[..5].iter().all(|u| u.starts_with('a')));
            assert!(order[5..].iter().all(|u| u.starts_with('b')));
            // the order stays as it is until a tracker answers
            assert_eq!(t.in_order(), order);
        }
        assert!(orders.len() > 1, "tiers are shuffled");
    }

    #[test]
    fn an_answering_tracker_moves_to_the_front_of_its_tier() {
        let mut t = TrackerTiers {
            tiers: vec![urls(&["a", "b", "c"]), urls(&["d", "e"])],
        };
        t.answered("c");
        assert_eq!(t.tiers()[0], urls(&["c", "a", "b"]));
        t.answered("e");
        assert_eq!(t.tiers()[1], urls(&["e", "d"]));
        assert_eq!(t.in_order(), urls(&["c", "a", "b", "e", "d"]));
        t.answered("c");
        t.answered("unknown");
        assert_eq!(t.in_order(), urls(&["c", "a", "b", "e", "d"]));
        assert!(!t.is_empty());
        assert!(TrackerTiers::new(vec![vec![]], &mut rand::thread_rng()).is_empty());
    }
}
