//! Fuzz signed collection records: a record signed by a key verifies, and
//! any change to the name, title (including dropping it: the untitled
//! format), sequence number, info-hashes, key or signature makes it fail; a catalogue entry carrying it keeps the record only if
//! it verifies for that entry. Keys and signatures from the input never
//! panic the parser or the verifier.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use piece_core::types::{InfoHashV1, InfoHashV2, InfoHashes};
use swarm::discovery::catalogue::{Catalogue, Share};
use swarm::discovery::signed::{CollectionSig, Publisher, PublisherKey};

#[derive(Arbitrary, Debug)]
struct Input {
    seed: [u8; 32],
    name: String,
    title: String,
    seq: u64,
    v1: Option<[u8; 20]>,
    v2: Option<[u8; 32]>,
    change: Change,
    key_hex: String,
    sig: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum Change {
    None,
    Name(String),
    Title(Option<String>),
    Seq(u64),
    V1(Option<[u8; 20]>),
    Sig(u8, u8),
    Key([u8; 32]),
}

fuzz_target!(|i: Input| {
    // Arbitrary key text and signature bytes never panic.
    if let Some(key) = PublisherKey::from_hex(&i.key_hex) {
        let mut sig = [0u8; 64];
        let n = i.sig.len().min(64);
        sig[..n].copy_from_slice(&i.sig[..n]);
        let h = InfoHashes {
            v1: Some(InfoHashV1([1; 20])),
            v2: None,
        };
        let _ = CollectionSig {
            key,
            seq: i.seq,
            sig,
            title: Some(i.title.clone()),
        }
        .verify(&i.name, &h);
    }
    let hashes = InfoHashes {
        v1: i.v1.map(InfoHashV1),
        v2: i.v2.map(InfoHashV2),
    };
    let p = Publisher::from_seed(i.seed);
    let Ok(rec) = p.sign(&i.name, &i.title, i.seq, &hashes) else {
        return;
    };
    rec.verify(&i.name, &hashes)
        .expect("a fresh record verifies");
    let (mut name, mut h, mut rec2) = (i.name.clone(), hashes, rec.clone());
    let changed = match i.change {
        Change::None => false,
        Change::Name(n) => {
            let c = n != name;
            name = n;
            c
        }
        Change::Title(t) => {
            let c = t != rec2.title;
            rec2.title = t;
            c
        }
        Change::Seq(s) => {
            let c = s != rec2.seq;
            rec2.seq = s;
            c
        }
        Change::V1(v) => {
            let c = v.map(InfoHashV1) != h.v1;
            h.v1 = v.map(InfoHashV1);
            c
        }
        Change::Sig(at, bit) => {
            rec2.sig[usize::from(at % 64)] ^= 1 << (bit % 8);
            true
        }
        Change::Key(seed) => {
            let k = Publisher::from_seed(seed).public();
            let c = k != rec2.key;
            rec2.key = k;
            c
        }
    };
    let ok = rec2.verify(&name, &h).is_ok();
    if changed {
        assert!(!ok, "a changed record still verifies");
    }
    // Through the catalogue: kept exactly when it verifies for the entry.
    if name.is_empty() || name.len() > 1024 || name.chars().any(char::is_control) {
        return;
    }
    if h.v1.is_none() && h.v2.is_none() {
        return;
    }
    let mut share = Share::new(name, 1, 1, h);
    share.collection = Some(rec2);
    let cat = Catalogue {
        shares: vec![share],
    };
    let back = Catalogue::decode(&cat.encode().expect("encodes")).expect("decodes");
    assert_eq!(back.shares[0].collection.is_some(), ok);
});
