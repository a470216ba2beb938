"""A local Amazon S3 Glacier (vault API) server on aiohttp. No Textual imports."""
