//! The OpenAPI 3.1 document, generated from the handlers and their types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::envelope::{Envelope, FieldProblem};
use super::json::{
    AvailabilityOut, AvailabilityRequest, LoginRequest, PricingOut, PricingRequest, ProductOut,
    ProductRequest, PublishOut, Token,
};
use super::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "dataflow (Vert API)", description = "Register products, list them, read what reached Kafka. \
        Every answer is the envelope {code, status, message, result}; `code` equals the HTTP status."),
    paths(routes::root, routes::login, routes::register, routes::all_products, routes::one_product,
          routes::consume, routes::healthz, routes::metrics),
    components(schemas(Envelope<ProductOut>, Envelope<Token>, Envelope<Vec<FieldProblem>>, Envelope<super::json::HealthOut>, FieldProblem, LoginRequest, Token,
        ProductRequest, PricingRequest, AvailabilityRequest, ProductOut, PricingOut, AvailabilityOut, PublishOut)),
    modifiers(&BearerAuth),
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
