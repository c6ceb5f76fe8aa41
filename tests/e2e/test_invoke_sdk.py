"""AWS's Python runtimes carry boto3; so do lambdad's: a function imports it unpackaged,
and a copy packaged in the function's own archive wins over the runtime's."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from e2e.helpers import LambdadServer, make_zip

SOURCE = """
import sys
import boto3, botocore

def handler(event, context):
    return {
        "boto3": boto3.__version__,
        "file": boto3.__file__,
        "path_index": {p: i for i, p in enumerate(sys.path)},
        "client": type(boto3.client("s3", region_name="us-east-1")).__name__,
    }
"""


@pytest.mark.parametrize("runtime", ["python3.11", "python3.13"])
def test_boto3_imports_without_packaging(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]], runtime: str
) -> None:
    fn = new_function(make_zip({"app.py": SOURCE}), Runtime=runtime)

    out = lambdad.client().invoke(FunctionName=fn["FunctionName"])

    assert "FunctionError" not in out, out["Payload"].read()
    result = json.loads(out["Payload"].read())
    assert result["boto3"]
    assert result["client"] == "S3"
    # After the task root and the layers' directories, as AWS orders sys.path.
    index = result["path_index"]
    sdk = next(p for p in index if p.endswith("/python/sdk"))
    assert index[sdk] > max(i for p, i in index.items() if "/opt" in p or p.endswith("task"))


def test_packaged_boto3_wins(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    fake = "__version__ = 'packaged'\ndef client(*a, **k):\n    return object()\n"
    fn = new_function(
        make_zip(
            {
                "app.py": SOURCE.replace("import boto3, botocore", "import boto3"),
                "boto3/__init__.py": fake,
            }
        )
    )

    result = json.loads(lambdad.client().invoke(FunctionName=fn["FunctionName"])["Payload"].read())

    assert result["boto3"] == "packaged"
