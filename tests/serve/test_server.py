"""The OpenAI-compatible server, called over real HTTP by the real openai client, LangChain and httpx."""

from __future__ import annotations

import base64
import threading

import httpx
import numpy as np
import pytest

from tests.serve.conftest import NAME, GatedEncoder

DOCS = [
    "The apt tool installs, upgrades and removes Debian packages.",
    "Debian stable is released roughly every two years.",
    "Use dpkg -i to install a local .deb file.",
]
QUERIES = ["how do I install a package from a file?", "when is the next stable release?"]


def cos(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def post(server, body, **kw):
    return httpx.post(f"{server.url}/v1/embeddings", json=body, timeout=60, **kw)


# -------------------------------------------------------------------------------------- real clients
def test_openai_client_matches_sentence_transformers_for_documents_and_queries(server, reference):
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    docs = client.embeddings.create(model=NAME, input=DOCS)  # the client asks for base64 and decodes it
    assert [d.index for d in docs.data] == [0, 1, 2]
    assert (cos([d.embedding for d in docs.data], reference.encode(DOCS)) >= 0.999).all()

    want_q = reference.encode(QUERIES, prompt_name="query")
    by_alias = client.embeddings.create(model=f"{NAME}:query", input=QUERIES)
    by_field = client.embeddings.create(model=NAME, input=QUERIES, extra_body={"input_type": "query"})
    for res in (by_alias, by_field):
        assert (cos([d.embedding for d in res.data], want_q) >= 0.999).all()
    # the prompt really changed the vectors: without it they are not the query embeddings
    no_prompt = reference.encode(QUERIES)
    assert (cos([d.embedding for d in by_alias.data], no_prompt) < 0.99).all()
    assert by_alias.model == f"{NAME}:query"
    assert (
        by_alias.usage.prompt_tokens > client.embeddings.create(model=NAME, input=QUERIES).usage.prompt_tokens
    )


def test_langchain_snippet_runs_against_the_server(server, reference, model_dir):
    from bgetune.tools.serve import usage_snippets

    code = usage_snippets(model_dir, server.url)["langchain"]
    assert "check_embedding_ctx_length=False" in code and f"{server.url}/v1" in code
    scope: dict = {}
    exec(code, scope)  # the snippet as a user pastes it
    emb = scope["emb"]
    docs = emb.embed_documents(DOCS)
    assert (cos(docs, reference.encode(DOCS)) >= 0.999).all()
    q = emb.embed_query(QUERIES[0])
    assert cos(q, reference.encode(QUERIES[0], prompt_name="query")) >= 0.999


def test_plain_langchain_openai_embeddings(server, reference):
    from langchain_openai import OpenAIEmbeddings

    emb = OpenAIEmbeddings(
        model=f"{NAME}:query", base_url=f"{server.url}/v1", api_key="x", check_embedding_ctx_length=False
    )
    got = emb.embed_documents(QUERIES)
    assert (cos(got, reference.encode(QUERIES, prompt_name="query")) >= 0.999).all()


def test_openai_snippet_runs(server, reference, model_dir):
    from bgetune.tools.serve import usage_snippets

    scope: dict = {}
    exec(usage_snippets(model_dir, server.url)["openai"], scope)
    assert cos(scope["vector"], reference.encode("your question", prompt_name="query")) >= 0.999


# -------------------------------------------------------------------------------------- the schema
def test_float_base64_and_dimensions(server):
    f = post(server, {"model": NAME, "input": DOCS[0]}).json()
    b = post(server, {"model": NAME, "input": DOCS[0], "encoding_format": "base64"}).json()
    vf = np.array(f["data"][0]["embedding"], dtype=np.float32)
    vb = np.frombuffer(base64.b64decode(b["data"][0]["embedding"]), dtype="<f4")
    assert f["object"] == "list" and f["data"][0]["object"] == "embedding"
    assert np.allclose(vf, vb) and abs(np.linalg.norm(vf) - 1) < 1e-4 and vf.shape == (384,)
    d = post(server, {"model": NAME, "input": DOCS[0], "dimensions": 64}).json()["data"][0]["embedding"]
    assert len(d) == 64 and abs(np.linalg.norm(d) - 1) < 1e-4
    assert cos(d, vf[:64]) > 0.9999  # Matryoshka: the re-normalised prefix


def test_usage_counts_tokens_after_truncation(server, reference):
    short = post(server, {"model": NAME, "input": "hello world"})
    n_short = len(reference.tokenizer("hello world")["input_ids"])
    assert short.json()["usage"] == {"prompt_tokens": n_short, "total_tokens": n_short}
    assert short.headers["x-truncated-inputs"] == "0"
    long_text = " ".join(["word"] * 600)  # 600 tokens, under the 5000-character limit
    r = post(server, {"model": NAME, "input": [long_text, "hello world"]})
    assert r.json()["usage"]["prompt_tokens"] == reference.max_seq_length + n_short
    assert r.headers["x-truncated-inputs"] == "1"


def test_models_and_health(server):
    models = httpx.get(f"{server.url}/v1/models").json()
    ids = [m["id"] for m in models["data"]]
    assert ids == [NAME, f"{NAME}:query", f"{NAME}:document"]
    assert models["data"][1]["prompt"].startswith("Represent this sentence")
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"


# -------------------------------------------------------------------------------------- bad input
BAD = [
    ("{not json", 400, "parse the JSON", None),
    ("[1, 2]", 400, "JSON object", None),
    ({"input": "x"}, 400, "'model' is required", "model"),
    ({"model": NAME}, 400, "'input' is required", "input"),
    ({"model": NAME, "input": []}, 400, "empty list", "input"),
    ({"model": NAME, "input": ["ok", ""]}, 400, "input[1] is an empty string", "input[1]"),
    ({"model": NAME, "input": ["ok", 3]}, 400, "input[1] is int", "input[1]"),
    ({"model": NAME, "input": [[101, 2023]]}, 400, "check_embedding_ctx_length=False", "input[0]"),
    ({"model": NAME, "input": {"text": "x"}}, 400, "string or a list", "input"),
    ({"model": NAME, "input": ["a"] * 9}, 400, "at most 8", "input"),
    ({"model": NAME, "input": ["x" * 3000, "y" * 3000]}, 400, "6000 characters", "input"),
    ({"model": "gpt-4", "input": "x"}, 404, "does not exist", "model"),
    ({"model": f"{NAME}:other", "input": "x"}, 404, "does not exist", "model"),
    ({"model": "../../etc/passwd", "input": "x"}, 404, "does not exist", "model"),
    ({"model": NAME, "input": "x", "encoding_format": "int8"}, 400, "encoding_format", "encoding_format"),
    ({"model": NAME, "input": "x", "dimensions": 0}, 400, "from 1 to 384", "dimensions"),
    ({"model": NAME, "input": "x", "dimensions": 4096}, 400, "from 1 to 384", "dimensions"),
    ({"model": NAME, "input": "x", "dimensions": True}, 400, "from 1 to 384", "dimensions"),
    ({"model": NAME, "input": "x", "input_type": "passage"}, 400, "'query' or 'document'", "input_type"),
    ({"model": f"{NAME}:query", "input": "x", "input_type": "document"}, 400, "contradicts", "input_type"),
]


@pytest.mark.parametrize("body,status,words,param", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_gets_an_openai_error_and_the_server_keeps_serving(server, body, status, words, param):
    if isinstance(body, str):
        r = httpx.post(
            f"{server.url}/v1/embeddings", content=body, headers={"content-type": "application/json"}
        )
    else:
        r = post(server, body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert words in err["message"] and err["param"] == param and err["type"] == "invalid_request_error"
    assert post(server, {"model": NAME, "input": "still here"}).status_code == 200


def test_oversized_body_is_refused_with_413(start):
    s = start(max_body_bytes=1000)
    r = post(s, {"model": NAME, "input": "x" * 2000})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    assert post(s, {"model": NAME, "input": "small"}).status_code == 200


def test_unknown_route_has_an_error_body(server):
    r = httpx.get(f"{server.url}/v1/files")
    assert r.status_code == 404 and "error" in r.json()


def test_openai_client_raises_on_unknown_model(server):
    import openai

    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.embeddings.create(model="text-embedding-3-small", input="x")


# -------------------------------------------------------------------------------------- safety
def test_public_address_refuses_to_start_without_a_key(model_dir, torch_encoder, monkeypatch):
    from bgetune.tools.serve import ServeConfig, ServeError, start_server

    monkeypatch.delenv("BGETUNE_SERVE_API_KEY", raising=False)
    with pytest.raises(ServeError, match="--api-key"):
        start_server(ServeConfig(model_dir=model_dir, host="0.0.0.0", port=0), encoder=torch_encoder)
    monkeypatch.setenv("BGETUNE_SERVE_API_KEY", "from-env")
    assert ServeConfig(model_dir=model_dir, host="0.0.0.0").api_key == "from-env"


def test_with_a_key_every_api_call_needs_the_bearer_token(start):
    import openai

    s = start(host="0.0.0.0", api_key="s3cret")
    url = f"http://127.0.0.1:{s.config.port}"
    body = {"model": NAME, "input": "x"}
    assert httpx.post(f"{url}/v1/embeddings", json=body).status_code == 401
    assert httpx.get(f"{url}/v1/models").status_code == 401
    wrong = httpx.post(f"{url}/v1/embeddings", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    ok = httpx.post(f"{url}/v1/embeddings", json=body, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert httpx.get(f"{url}/health").status_code == 200  # load balancers probe without a key
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="nope", max_retries=0).embeddings.create(**body)
    got = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret").embeddings.create(**body)
    assert len(got.data[0].embedding) == 384


# -------------------------------------------------------------------------------------- batching
def test_concurrent_requests_share_one_forward_pass(start, torch_encoder, reference):
    gated = GatedEncoder(torch_encoder)
    s = start(encoder=gated)
    results: dict[int, httpx.Response] = {}

    def call(i: int, text: str) -> None:
        results[i] = post(s, {"model": NAME, "input": text})

    first = threading.Thread(target=call, args=(0, DOCS[0]))
    first.start()
    assert gated.entered.wait(30)  # the worker is busy with request 0
    batcher = s.server.config.app.state.batcher
    rest = [threading.Thread(target=call, args=(i, DOCS[i % 3])) for i in range(1, 7)]
    for t in rest:
        t.start()
    while batcher.pending < 7:  # all six queued behind the first
        threading.Event().wait(0.01)
    gated.gate.set()
    for t in [first, *rest]:
        t.join(60)
    assert gated.calls == [1, 6]  # six requests, one forward pass
    for i, r in results.items():
        assert r.status_code == 200
        assert cos(r.json()["data"][0]["embedding"], reference.encode(DOCS[i % 3])) >= 0.999


def test_full_queue_answers_503_with_retry_after_then_recovers(start, torch_encoder):
    gated = GatedEncoder(torch_encoder)
    s = start(encoder=gated, max_queue=4)
    out: dict[str, httpx.Response] = {}
    t = threading.Thread(target=lambda: out.setdefault("a", post(s, {"model": NAME, "input": DOCS + ["x"]})))
    t.start()
    assert gated.entered.wait(30)
    r = post(s, {"model": NAME, "input": "one more"})
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "overloaded"
    gated.gate.set()
    t.join(60)
    assert out["a"].status_code == 200 and len(out["a"].json()["data"]) == 4
    assert post(s, {"model": NAME, "input": "one more"}).status_code == 200


# -------------------------------------------------------------------------------------- snippets
def test_usage_snippets_name_the_folder_url_and_settings(model_dir):
    from bgetune.tools.serve import usage_snippets

    sn = usage_snippets(model_dir, "http://10.0.0.5:9000/", api_key_required=True)
    assert set(sn) >= {"sentence-transformers", "openai", "langchain", "dify", "tei", "vllm"}
    assert (
        'prompt_name="query"' in sn["sentence-transformers"] and str(model_dir) in sn["sentence-transformers"]
    )
    assert "http://10.0.0.5:9000/v1" in sn["dify"] and "Text Embedding" in sn["dify"]
    assert f"{NAME}:query" in sn["openai"] and "BGETUNE_SERVE_API_KEY" in sn["openai"]
    assert "--runner pooling" in sn["vllm"] and str(model_dir) in sn["vllm"]
    assert "--model-id /model" in sn["tei"] and "prompt_name" in sn["tei"]
