"""Code uploaded for a stack (``lambdad deploy``) before it is deployed: where it is
sent, and how a template names it.

The CLI uploads each zipped code directory to ``ARTIFACTS_PATH`` (signed for
cloudformation) and names it in the template as an S3 location in ``ARTIFACT_BUCKET``
with its SHA-256 as the key. No S3 bucket can have that name (an underscore), so a
user's own bucket is never mistaken for it.
"""

from __future__ import annotations

ARTIFACTS_PATH = "/_lambdad/artifacts"
ARTIFACT_BUCKET = "_lambdad-artifacts"
