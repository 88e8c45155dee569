"""HTTP routers, thin: parse, authorise, call a use case, shape the answer."""
