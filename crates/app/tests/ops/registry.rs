//! The registry without HTTP: pushing blobs and a manifest, reading them back, search,
//! detail, deleting by reference, and garbage collection.

use crate::{Backend, open, user};
use gantry_app::registry::images::{ImageKind, Search};
use gantry_app::registry::uploads::{Chunk, Started};
use gantry_domain::{Access, Digest, ErrorKind, RefTarget, RepoName, TokenScope};

type Body = futures::stream::Iter<std::vec::IntoIter<Result<bytes::Bytes, std::io::Error>>>;

fn body(b: &'static [u8]) -> Body {
    futures::stream::iter(vec![Ok(bytes::Bytes::from_static(b))])
}

async fn push_read_delete(b: Backend) {
    let app = open(b).await;
    let alice = user(&app, "alice", TokenScope::Write).await;
    let bob = user(&app, "bob", TokenScope::Write).await;
    let name = RepoName::parse("lab/tool").unwrap();
    let (layer, config) = (b"layer bytes".as_slice(), b"{}".as_slice());
    for blob in [layer, config] {
        let d = Digest::of(blob);
        let one = |b: &'static [u8]| Some((Chunk::default(), body(b)));
        let started = app.registry.start_upload(Some(&alice), &name, None, Some(&d), one(blob)).await.unwrap();
        assert!(matches!(started, Started::Done(ref x) if *x == d));
    }
    // A chunked upload that claims the wrong digest publishes nothing.
    let none: Option<(Chunk, Body)> = None;
    let Started::Session { id, size } = app.registry.start_upload(Some(&alice), &name, None, None, none).await.unwrap()
    else {
        panic!("a session")
    };
    assert_eq!(size, 0);
    let (_, up) = app.registry.upload(Some(&alice), &name, &id).await.unwrap();
    assert_eq!(app.registry.upload(Some(&bob), &name, &id).await.unwrap_err().kind, ErrorKind::NameUnknown);
    let bad = Chunk { range: Some((5, 9)), length: Some(5) };
    assert_eq!(app.registry.append(&up, bad, body(b"xxxxx")).await.unwrap_err().kind, ErrorKind::RangeInvalid);
    let wrong = Digest::of(b"something else");
    let e = app.registry.finish_upload(&up, Chunk::default(), body(b"actual"), &wrong).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::DigestInvalid);
    assert!(app.registry.blobs().size(&wrong).await.unwrap().is_none());
    // The manifest.
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},
        "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
        Digest::of(config),
        config.len(),
        Digest::of(layer),
        layer.len()
    );
    let ctx = app.registry.repo_for_push(Some(&alice), &name).await.unwrap();
    let tag = RefTarget::parse("1.0").unwrap();
    let row = app.registry.put_manifest(&alice, &ctx, &tag, m.clone().into(), None).await.unwrap();
    assert_eq!(row.digest, Digest::of(m.as_bytes()).to_string());
    // Bob sees nothing of alice's private collection; alice finds and reads it.
    assert_eq!(app.registry.repo(Some(&bob), &name, Access::Read).await.unwrap_err().kind, ErrorKind::NameUnknown);
    assert!(app.registry.search(Some(&bob), &Search { limit: 10, ..Search::default() }).await.unwrap().is_empty());
    let found = app
        .registry
        .search(Some(&alice), &Search { text: "TOOL".into(), limit: 10, ..Search::default() })
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|i| (i.reference.as_str(), i.kind)).collect::<Vec<_>>(),
        [("lab/tool:1.0", ImageKind::Image)]
    );
    let ctx = app.registry.repo(Some(&alice), &name, Access::Read).await.unwrap();
    let row = app.registry.resolve(&ctx, &tag).await.unwrap();
    let d = app.registry.image_detail(&ctx, &row).await.unwrap();
    assert_eq!((d.tags.as_slice(), d.layers.len(), d.sif.is_none()), (["1.0".to_string()].as_slice(), 1, true));
    // Deleting needs manage rights; a tag goes, then the manifest is unknown by tag.
    let ctx = app.registry.repo(Some(&alice), &name, Access::Manage).await.unwrap();
    app.registry.delete_ref(&ctx, &tag).await.unwrap();
    assert_eq!(app.registry.delete_ref(&ctx, &tag).await.unwrap_err().kind, ErrorKind::ManifestUnknown);
    let by_digest = RefTarget::Digest(Digest::parse(&row.digest).unwrap());
    app.registry.delete_ref(&ctx, &by_digest).await.unwrap();
    // Nothing references the blobs now: gc takes them once they are older than the grace.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let report = app.gc.run(0).await.unwrap();
    assert_eq!(report.blobs_removed, 2);
    assert!(app.registry.blobs().size(&Digest::of(layer)).await.unwrap().is_none());
}

crate::both_backends!(push_read_delete);
