"""Contract tests run over every registered language model (and a completeness check)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.config import LanguageModelConfig
from neurospell.lm_fusion import VOCAB, available_models, make_model
from neurospell.types import DEFAULT_SYMBOLS, CharDistribution


def _tiny_gpt2(folder):
    """A randomly initialised 1-layer GPT-2 with a byte-level BPE tokenizer built offline."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    text = ["hello how are you", "the quick brown fox jumps over the lazy dog", "i am fine thank you"]
    tok.train_from_iterator(text * 20, trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                                eos_token="<|endoftext|>")
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=len(fast), n_layer=1, n_embd=32, n_head=2, n_positions=128,
                                  bos_token_id=0, eos_token_id=0)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_gpt2_dir(tmp_path_factory):
    return _tiny_gpt2(tmp_path_factory.mktemp("tiny_gpt2"))


# name -> (builder(request) -> model, knows English?)
CASES = {
    "uniform": (lambda r: make_model("uniform"), False),
    "ngram": (lambda r: make_model("ngram"), True),
    "transformer": (lambda r: make_model("transformer"), True),
    "mixture": (lambda r: make_model("mixture"), True),
    "word": (lambda r: make_model("word"), True),
    "everyday": (lambda r: make_model("everyday"), True),
    "hf": (lambda r: make_model("hf", LanguageModelConfig(name="hf", path=str(r.getfixturevalue("tiny_gpt2_dir")))), False),
    # SmolLM2-135M: ~10-70 s to de-quantise the GGUF on a busy 2-core machine, ~0.5 s a query.
    "smollm2": (lambda r: make_model("smollm2"), True),
}
_PARAMS = [pytest.param(n, marks=pytest.mark.slow) if n == "smollm2" else n for n in CASES]
_MODELS: dict = {}


@pytest.fixture(params=_PARAMS)
def case(request):
    name = request.param
    if name not in _MODELS:
        _MODELS[name] = CASES[name][0](request)
    return name, _MODELS[name], CASES[name][1]


def teardown_module(module):
    _MODELS.clear()


def test_every_registered_model_has_a_case():
    assert set(available_models()) == set(CASES)


def test_distribution_normalised_and_deterministic(case):
    name, lm, _ = case
    for ctx in ("", "HELLO HOW AR", "I THINK "):
        d1 = lm.distribution(ctx, DEFAULT_SYMBOLS)
        assert isinstance(d1, CharDistribution)
        assert d1.alphabet == DEFAULT_SYMBOLS
        assert abs(np.logaddexp.reduce(d1.logp)) < 1e-9
        assert np.all(np.isfinite(d1.logp))
        d2 = lm.distribution(ctx, DEFAULT_SYMBOLS)
        np.testing.assert_array_equal(d1.logp, d2.logp)
    lp = lm.next_logp("HELLO")
    assert lp.shape == (len(VOCAB),)
    assert abs(np.logaddexp.reduce(lp)) < 1e-9


def test_context_case_and_unknown_characters(case):
    name, lm, english = case
    a = lm.distribution("hello how ar", DEFAULT_SYMBOLS)
    b = lm.distribution("HELLO HOW AR", DEFAULT_SYMBOLS)
    np.testing.assert_allclose(a.logp, b.logp, atol=1e-9)  # case-insensitive
    c = lm.distribution("HELLO~HOW AR", DEFAULT_SYMBOLS)  # unknown context char -> space
    np.testing.assert_allclose(c.logp, b.logp, atol=1e-9)
    if english:
        assert "E" in [s for s, _ in b.top(3)], b.top(5)
        assert b.argmax() != lm.distribution("", DEFAULT_SYMBOLS).argmax() or b.argmax() == "E"


def test_alphabet_mapping_unknown_and_lowercase_symbols(case):
    name, lm, _ = case
    alphabet = tuple("abcdefghijklmnopqrstuvwxyz ") + ("<", "#")
    d = lm.distribution("HELLO", alphabet)
    assert abs(np.logaddexp.reduce(d.logp)) < 1e-9
    # symbols the model cannot produce get exactly unknown_p
    assert math.isclose(d["<"], math.log(lm.unknown_p), rel_tol=1e-9)
    assert math.isclose(d["#"], math.log(lm.unknown_p), rel_tol=1e-9)
    up = lm.distribution("HELLO", tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ ") + ("<", "#"))
    np.testing.assert_allclose(d.logp, up.logp, atol=1e-9)
    with pytest.raises(NeurospellError, match="single characters"):
        lm.distribution("HELLO", ("A", "BB"))


def test_score_strings(case):
    name, lm, english = case
    s = lm.score(["", "ARE YOU", "QXZJ"], context="HELLO HOW ")
    assert s.shape == (3,)
    assert s[0] == 0.0
    assert np.all(np.isfinite(s))
    if name != "hf" and name != "smollm2":  # character models: the chain rule holds exactly
        lp = lm.next_logp("HELLO HOW ")[VOCAB.index("A")] + lm.next_logp("HELLO HOW A")[VOCAB.index("R")]
        lp += sum(lm.next_logp("HELLO HOW AR" + "E YOU"[:i])[VOCAB.index("E YOU"[i])] for i in range(5))
        # float64 end to end: the cached, batched and fresh paths agree to ~1e-12; 1e-9 leaves
        # three orders of magnitude for summing seven terms of a few nats each.
        assert math.isclose(s[1], lp, rel_tol=1e-9, abs_tol=1e-9)
        assert np.all(s[1:] < 0)
    if english:
        assert s[1] > s[2] + 5
    with pytest.raises(TypeError, match="sequence of strings"):
        lm.score("ARE YOU")


def test_scores_independent_of_call_history(case):
    """What was computed before (cached contexts) does not change a score or a prediction."""
    name, lm, _ = case
    lm.reset()
    fresh_next = lm.next_logp("WHERE ARE MY K")
    fresh = lm.score(["EYS", "IDS"], context="WHERE ARE MY ")
    for ctx in ("W", "WHERE", "WHERE ARE", "WHERE ARE MY", "WHERE ARE MY KE", "HELLO"):
        lm.next_logp(ctx)
    warm_next = lm.next_logp("WHERE ARE MY K")
    warm = lm.score(["EYS", "IDS"], context="WHERE ARE MY ")
    np.testing.assert_allclose(warm_next, fresh_next, rtol=0, atol=1e-9)
    np.testing.assert_allclose(warm, fresh, rtol=0, atol=1e-9)


def test_prefetch_does_not_change_results(case):
    """Contexts prepared together (the transformer: one batched step over caches of
    different lengths) give what each context gives alone."""
    name, lm, _ = case
    long = "I WOULD LIKE SOME WATER PLEASE AND THEN A SANDWICH " * 3  # past the transformer's window
    parents = ["", "HELLO", "HELLO HOW AR", "I THINK"]
    contexts = ["H", "HELLO ", "HELLOW", "HELLO HOW ARE", "HELLO HOW ARX", "I THINK ", "i think ",
                "NOT CACHED AT ALL", "HELLO"]
    if name != "hf":  # the test's tiny GPT-2 has 128 positions
        parents.append(long)
        contexts.insert(7, long + "X")
    lm.reset()
    alone = [lm.next_logp(c) for c in contexts]
    lm.reset()
    for c in parents:
        lm.next_logp(c)
    lm.prefetch(contexts)
    for c, ref in zip(contexts, alone, strict=True):
        np.testing.assert_allclose(lm.next_logp(c), ref, rtol=0, atol=1e-9, err_msg=c)
    lm.prefetch([])
    with pytest.raises(TypeError, match="sequence of strings"):
        lm.prefetch("HELLO")


def test_unknown_name_error():
    with pytest.raises(NeurospellError, match="Allowed values are .*'ngram'.*but got 'gpt7'"):
        make_model("gpt7")


def test_hf_folder_errors(tmp_path):
    with pytest.raises(NeurospellError, match="does not exist or is not a folder.*never downloaded"):
        make_model("hf", LanguageModelConfig(name="hf", path=str(tmp_path / "missing")))
    with pytest.raises(NeurospellError, match="needs a local folder"):
        make_model("hf", LanguageModelConfig(name="hf", path=""))
    (tmp_path / "notmodel").mkdir()
    with pytest.raises(NeurospellError, match="not a Hugging Face model folder"):
        make_model("hf", LanguageModelConfig(name="hf", path=str(tmp_path / "notmodel")))


def test_hf_not_causal_lm(tmp_path):
    import transformers

    cfg = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32)
    transformers.BertModel(cfg).save_pretrained(tmp_path)
    with pytest.raises(NeurospellError, match="does not hold a causal language model"):
        make_model("hf", LanguageModelConfig(name="hf", path=str(tmp_path)))


def test_hf_marginalises_tokens_to_characters(tiny_gpt2_dir):
    """From an empty context, p(next char = c) is the total probability of the tokens that
    start with c (either case), computed here directly from the network's logits."""
    import torch

    lm = make_model("hf", LanguageModelConfig(name="hf", path=str(tiny_gpt2_dir)))
    tok = lm.tokenizer
    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([[tok.bos_token_id]])).logits[0, -1].double()
    p = torch.softmax(logits, -1).numpy()
    mass = dict.fromkeys(VOCAB, 0.0)
    for i in range(len(tok)):
        s = tok.decode([i])
        if i != tok.bos_token_id and s and s[0].upper() in mass:
            mass[s[0].upper()] += p[i]
    expect = np.array([mass[c] for c in VOCAB])
    expect = 0.999 * expect / expect.sum() + 0.001 / len(VOCAB)
    np.testing.assert_allclose(np.exp(lm.next_logp("")), expect, rtol=1e-6)
    # inside a word, only continuations of tokens consistent with the typed prefix count
    d = lm.distribution("THE QUICK BRO", DEFAULT_SYMBOLS)
    assert abs(np.logaddexp.reduce(d.logp)) < 1e-9


def test_mixture_weights_and_errors():
    from neurospell.lm_fusion import MixtureLM, UniformLM

    ng = make_model("ngram")
    mix = MixtureLM([ng, UniformLM()], weights=[1.0, 0.0])
    np.testing.assert_allclose(mix.next_logp("HELLO"), ng.next_logp("HELLO"), atol=1e-12)
    half = MixtureLM([ng, UniformLM()], weights=[1, 1])
    expect = np.log(0.5 * np.exp(ng.next_logp("HELLO")) + 0.5 / len(VOCAB))
    np.testing.assert_allclose(half.next_logp("HELLO"), expect, atol=1e-12)
    loglin = MixtureLM([ng, UniformLM()], mode="loglinear")
    assert abs(np.logaddexp.reduce(loglin.next_logp("HELLO"))) < 1e-9
    plus = make_model("ngram+uniform")
    np.testing.assert_allclose(plus.next_logp("HELLO"), expect, atol=1e-12)
    with pytest.raises(NeurospellError, match="non-negative"):
        MixtureLM([ng], weights=[-1])
    with pytest.raises(NeurospellError, match="'linear' or 'loglinear'"):
        MixtureLM([ng], mode="geometric")


def test_rerank_with_whole_string_scores(tiny_gpt2_dir):
    from neurospell.lm_fusion import rerank
    from neurospell.types import Candidate, CandidateList

    ng = make_model("ngram")
    cands = CandidateList((Candidate("QHE CAT", -1.0, -1.0, 0.0), Candidate("THE CAT", -1.5, -1.5, 0.0)))
    out = rerank(cands, ng)
    assert out.best.text == "THE CAT"
    assert out.best.score == pytest.approx(-1.5 + ng.score(["THE CAT"])[0])
    hf = make_model("hf", LanguageModelConfig(name="hf", path=str(tiny_gpt2_dir)))
    assert len(rerank(cands, hf, weight=0.5)) == 2
