//! A gRPC service made on its first call.
//!
//! Server reflection (what `grpcurl list` and `grpcurl describe` ask) decodes
//! codexd's protobuf descriptors into lookup maps when it is built: ~0.35 MiB
//! of heap and ~0.25 MiB of code pages, held for the daemon's whole life, for
//! calls people make by hand and rarely. Wrapped in [`Lazy`], they are built
//! by the first reflection call instead of at start (BENCHMARKS 5a).

use std::{
    convert::Infallible,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
};

use tonic::{
    body::Body,
    codegen::{http, BoxFuture, Service},
    server::NamedService,
    Status,
};

/// A service `make` builds at the first request, then serves every request.
pub struct Lazy<S, F> {
    inner: Arc<Inner<S, F>>,
}

struct Inner<S, F> {
    make: F,
    /// The service, or why it could not be made (said to every caller).
    made: OnceLock<Result<S, String>>,
}

impl<S, F> Lazy<S, F>
where
    F: Fn() -> Result<S, String>,
{
    pub fn new(make: F) -> Self {
        Self {
            inner: Arc::new(Inner {
                make,
                made: OnceLock::new(),
            }),
        }
    }

    /// The service, made now if no call has made it yet.
    fn made(&self) -> &Result<S, String> {
        self.inner.made.get_or_init(|| (self.inner.make)())
    }
}

impl<S, F> Clone for Lazy<S, F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S: NamedService, F> NamedService for Lazy<S, F> {
    const NAME: &'static str = S::NAME;
}

impl<S, F> Service<http::Request<Body>> for Lazy<S, F>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    F: Fn() -> Result<S, String>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Readiness is the made service's, asked in `call`: tonic's generated
        // servers are always ready, and nothing is made before a request.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match self.made() {
            Ok(service) => {
                let mut service = service.clone();
                Box::pin(async move {
                    std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
                    service.call(request).await
                })
            }
            Err(why) => {
                let status = Status::unavailable(format!("{} cannot be served: {why}", S::NAME));
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A stand-in service that answers 200 and counts its calls.
    #[derive(Clone)]
    struct Counted(Arc<AtomicUsize>);

    impl NamedService for Counted {
        const NAME: &'static str = "test.Counted";
    }

    impl Service<http::Request<Body>> for Counted {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: http::Request<Body>) -> Self::Future {
            self.0.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(http::Response::new(Body::empty())))
        }
    }

    #[tokio::test]
    async fn made_once_at_the_first_call_and_shared_by_clones() {
        let makes = Arc::new(AtomicUsize::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let (m, c) = (makes.clone(), calls.clone());
        let lazy = Lazy::new(move || {
            m.fetch_add(1, Ordering::SeqCst);
            Ok(Counted(c.clone()))
        });
        assert_eq!(makes.load(Ordering::SeqCst), 0, "made before any call");
        let clone = lazy.clone();
        for mut service in [lazy.clone(), clone, lazy] {
            let answer = service.call(http::Request::new(Body::empty())).await;
            assert!(matches!(answer, Ok(ref r) if r.status() == 200));
        }
        assert_eq!(makes.load(Ordering::SeqCst), 1);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            <Lazy<Counted, fn() -> Result<Counted, String>>>::NAME,
            "test.Counted"
        );
    }

    #[tokio::test]
    async fn a_service_that_cannot_be_made_is_a_grpc_error_naming_it() {
        let mut lazy = Lazy::new(|| Err::<Counted, _>("bad descriptors".to_string()));
        let answer = lazy.call(http::Request::new(Body::empty())).await;
        let Ok(answer) = answer;
        let status = Status::from_header_map(answer.headers()).map(|s| s.message().to_string());
        assert_eq!(
            status.as_deref(),
            Some("test.Counted cannot be served: bad descriptors")
        );
    }

    /// The services codexd makes lazily can be made: the descriptors are
    /// codexd's own, so a failure here is a build mistake, caught here rather
    /// than by the first grpcurl user.
    #[test]
    fn codexd_reflection_services_build() {
        assert!(super::super::server::reflection_v1().is_ok());
        assert!(super::super::server::reflection_v1alpha().is_ok());
    }
}
