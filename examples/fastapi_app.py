"""A FastAPI app protected by turbojwt: the middleware on everything (the example policy's
routes decide: /me falls to its default route, which needs the user role), and a dependency
asking for a scope on one route. Run: uvicorn examples.fastapi_app:app"""

from fastapi import Depends, FastAPI, Request

from turbojwt.gateway import JWTAuthMiddleware, Policy
from turbojwt.gateway.frameworks import require_token

policy = Policy.from_toml("examples/gateway.toml")
app = FastAPI()


@app.get("/me")
async def me(request: Request):
    return {"sub": request.state.jwt["sub"], "provider": request.state.jwt_provider}


@app.post("/orders")
async def create_order(claims: dict = Depends(require_token(policy, scopes=["orders:write"]))):
    return {"created_by": claims["sub"]}


app.add_middleware(JWTAuthMiddleware, policy=policy, skip_paths=["/healthz", "/docs", "/openapi.json"])
