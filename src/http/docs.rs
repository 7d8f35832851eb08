//! The OpenAPI 3.1 document, generated from the handlers and their types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::envelope::{Envelope, FieldProblem};
use super::json::{
    AvailabilityOut, AvailabilityRequest, LoginRequest, PricingOut, PricingRequest, ProductOut,
    ProductRequest, PublishOut, Token,
};
use super::{product, routes};

#[derive(OpenApi)]
#[openapi(
    info(title = "dataflow (Vert API)", description = "Register products, list them, read what reached Kafka. \
        Every answer is the envelope {code, status, message, result}; `code` equals the HTTP status, \
        also for an unknown path (404) and a method a path does not take (405, with `Allow`)."),
    paths(routes::root, routes::login, routes::register, routes::all_products, product::one_product,
          product::update_product, product::delete_product,
          super::consume::consume, super::users::list, super::users::add, super::users::one,
          super::users::change, super::audit::list, routes::healthz, routes::metrics),
    components(schemas(Envelope<ProductOut>, Envelope<Token>, Envelope<Vec<FieldProblem>>, Envelope<super::json::HealthOut>, FieldProblem, LoginRequest, Token,
        ProductRequest, PricingRequest, AvailabilityRequest, ProductOut, PricingOut, AvailabilityOut, PublishOut,
        super::json::DeletedOut, Envelope<super::json::DeletedOut>,
        super::users::UserOut, super::users::NewUserRequest, super::users::UserChangeRequest,
        super::audit::AuditEntryOut, super::audit::AuditPage, Envelope<super::audit::AuditPage>)),
    modifiers(&BearerAuth, &ServerLimits),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Answers any route can give because of the server's limits (see `limits.rs`): documented on
/// every operation so the document equals the behaviour.
struct ServerLimits;

fn envelope_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{ContentBuilder, ResponseBuilder};
    let text = || ObjectBuilder::new().schema_type(Type::String);
    let schema = ObjectBuilder::new()
        .property("code", text())
        .property("status", text())
        .property("message", text())
        .required("code")
        .required("status")
        .required("message")
        .build();
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

impl Modify for ServerLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        let common = [
            (
                "408",
                "The request was not answered in time (request timeout)",
            ),
            (
                "503",
                "Too many requests in flight (see Retry-After), or a dependency unavailable",
            ),
        ];
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                for (code, description) in common {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| RefOr::T(envelope_response(description)));
                }
            }
        }
    }
}
