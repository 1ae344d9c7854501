"""ONNX and int8 files written into an exported folder, measured, recorded, and served. Needs bgetune[onnx]."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

pytest.importorskip("onnxruntime", reason="the ONNX tests need the onnx extra: pip install 'bgetune[onnx]'")
pytest.importorskip("onnx", reason="the ONNX tests need the onnx extra: pip install 'bgetune[onnx]'")

from tests.serve.conftest import NAME  # noqa: E402
from tests.serve.test_server import DOCS, QUERIES, cos  # noqa: E402


@pytest.fixture(scope="module")
def onnx_dir(model_dir, tmp_path_factory):
    """A copy of the export with onnx/model.onnx and onnx/model_qint8.onnx, measured on a tiny query set."""
    from bgetune.tools.evaluation import QuerySet
    from bgetune.tools.onnx_export import export_onnx

    d = tmp_path_factory.mktemp("onnx") / NAME
    shutil.copytree(model_dir, d)
    (d / "README.md").write_text("# card\n\nexisting text\n")
    (d / "bgetune.json").write_text(json.dumps({"base_model": "bundled"}))
    qs = QuerySet(
        queries=QUERIES,
        positives=[{"d2"}, {"d1"}],
        corpus_ids=["d0", "d1", "d2"],
        corpus_texts=DOCS,
    )
    res = export_onnx(d, quantize="int8", queryset=qs)
    return d, res


def test_export_writes_both_files_and_measures_them(onnx_dir):
    d, res = onnx_dir
    assert (d / "onnx" / "model.onnx").stat().st_size > 1e6
    assert (d / "onnx" / "model_qint8.onnx").stat().st_size < (d / "onnx" / "model.onnx").stat().st_size
    fp32, int8, fused = res.files
    assert fp32.file == "onnx/model.onnx" and fp32.cosine_min >= 0.9999
    assert int8.file == "onnx/model_qint8.onnx" and 0.95 <= int8.cosine_min < 0.99999
    # onnxruntime's fusions + int8 on every weight: the fastest CPU file, still close to torch
    assert fused.file == "onnx/model_fused_qint8.onnx" and 0.95 <= fused.cosine_min < 0.99999
    assert (d / fused.file).stat().st_size < (d / int8.file).stat().st_size
    assert not list((d / "onnx").glob("*.tmp"))
    assert res.torch_ndcg_at_10 is not None and fp32.ndcg_delta_vs_torch == 0.0
    assert res.folder_problems == []
    assert "onnx/model_qint8.onnx" in res.text() and "bgetune serve --backend onnx" in res.text()


def test_quality_is_recorded_in_bgetune_json_and_the_card(onnx_dir):
    d, res = onnx_dir
    meta = json.loads((d / "bgetune.json").read_text())
    assert meta["base_model"] == "bundled"  # kept
    assert [f["file"] for f in meta["onnx"]["files"]] == [
        "onnx/model.onnx",
        "onnx/model_qint8.onnx",
        "onnx/model_fused_qint8.onnx",
    ]
    card = (d / "README.md").read_text()
    assert card.startswith("# card") and "existing text" in card
    assert "## ONNX files" in card and f"{res.files[1].cosine_min:.4f}" in card
    from bgetune.tools.onnx_export import CARD_END, CARD_START, replace_card_section

    replace_card_section(d, CARD_START, CARD_END, f"{CARD_START}\nnew\n{CARD_END}")
    card = (d / "README.md").read_text()
    assert card.count(CARD_START) == 1 and "## ONNX files" not in card and "existing text" in card


def test_onnx_encoder_matches_sentence_transformers(onnx_dir, reference):
    from bgetune.tools.serve import OnnxEncoder

    d, _ = onnx_dir
    enc = OnnxEncoder(d)
    emb, counts = enc.encode(DOCS, "")
    assert (cos(emb, reference.encode(DOCS)) >= 0.9999).all()
    q, _ = enc.encode(QUERIES, enc.prompts["query"])
    assert (cos(q, reference.encode(QUERIES, prompt_name="query")) >= 0.9999).all()
    assert counts == [len(reference.tokenizer(t)["input_ids"]) for t in DOCS]


def test_server_on_the_int8_file(onnx_dir, reference):
    from openai import OpenAI

    from bgetune.tools.serve import OnnxEncoder, ServeConfig, start_server

    d, _ = onnx_dir
    cfg = ServeConfig(model_dir=d, port=0, backend="onnx", onnx_file="onnx/model_qint8.onnx")
    cfg.api_key = None
    s = start_server(cfg, encoder=OnnxEncoder(d, file_name="onnx/model_qint8.onnx"))
    try:
        client = OpenAI(base_url=f"{s.url}/v1", api_key="x", max_retries=0)
        got = client.embeddings.create(model=f"{NAME}:query", input=QUERIES)
        assert (
            cos([x.embedding for x in got.data], reference.encode(QUERIES, prompt_name="query")) >= 0.95
        ).all()
        assert httpx.get(f"{s.url}/health").json()["backend"] == "onnx"
    finally:
        s.stop()


def test_missing_onnx_file_says_how_to_make_it(model_dir):
    from bgetune.tools.serve import OnnxEncoder, ServeError

    with pytest.raises(ServeError, match="bgetune export --onnx"):
        OnnxEncoder(model_dir, file_name="onnx/nothing.onnx")


def test_sentence_transformers_onnx_backend_loads_the_file_where_optimum_works(onnx_dir, reference):
    pytest.importorskip(
        "optimum.onnxruntime", reason="optimum-onnx is not installed (it pins transformers<4.58)"
    )
    from sentence_transformers import SentenceTransformer

    d, _ = onnx_dir
    m = SentenceTransformer(str(d), backend="onnx", model_kwargs={"file_name": "onnx/model.onnx"})
    assert (cos(m.encode(DOCS), reference.encode(DOCS)) >= 0.9999).all()


def test_check_folder_names_what_other_servers_would_miss(model_dir, tmp_path):
    from bgetune.tools.onnx_export import check_folder

    assert check_folder(model_dir) == []
    d = tmp_path / "broken"
    shutil.copytree(model_dir, d)
    (d / "tokenizer.json").unlink()
    shutil.rmtree(d / "1_Pooling")
    cfg = json.loads((d / "config_sentence_transformers.json").read_text())
    cfg["prompts"] = {}
    (d / "config_sentence_transformers.json").write_text(json.dumps(cfg))
    problems = "\n".join(check_folder(d))
    assert "tokenizer.json is missing" in problems
    assert "'1_Pooling', which is missing" in problems
    assert "no 'query' prompt" in problems


def test_usage_section_in_the_card_is_replaced_not_repeated(onnx_dir):
    from bgetune.tools.onnx_export import write_usage_section

    d, _ = onnx_dir
    write_usage_section(d, "http://127.0.0.1:9999")
    write_usage_section(d, "http://127.0.0.1:8000")
    card = (d / "README.md").read_text()
    assert card.count("## Use it") == 1 and "127.0.0.1:8000/v1" in card and "9999" not in card
    assert "check_embedding_ctx_length=False" in card and "--runner pooling" in card
