"""The API's request and answer shapes, one module per resource; never ORM rows."""
