"""Users' data as model input: CSV, NPY/NPZ, text with a vocabulary, and every error message."""
import io
import json
import os

import numpy as np
import pytest
import torch

import lstm_core
from lstm_core.io.data import (DataError, check_input_size, from_arrays, load_array, load_csv, load_data, load_text,
                            read_vocab)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_with_and_without_header(tmp_path):
    s = load_csv(write(tmp_path, "a.csv", "speed,angle\n1,2\n3,4.5\n-1e-3,0\n"))
    assert s.feature_names == ["speed", "angle"]
    assert s.x.shape == (1, 3, 2) and s.lengths.tolist() == [3]
    torch.testing.assert_close(s.x[0], torch.tensor([[1, 2], [3, 4.5], [-1e-3, 0]]))
    s = load_csv(write(tmp_path, "b.csv", "1,2\n3,4\n"))
    assert s.feature_names is None and s.x.shape == (1, 2, 2)


@pytest.mark.parametrize("text", ["a,b\n1,2\n3,4\n", "a;b\n1;2\n3;4\n", "a\tb\n1\t2\n3\t4\n",
                                  "  a   b\n  1   2\n  3   4\n", "a,b,\n1,2,\n3,4,\n", "\ufeffa,b\r\n1,2\r\n3,4\r\n"],
                         ids=["comma", "semicolon", "tab", "spaces", "trailing-commas", "bom-crlf"])
def test_csv_delimiters_a_spreadsheet_writes(text):
    s = load_csv(io.BytesIO(text.encode()), source="s.csv")
    assert s.feature_names == ["a", "b"] and s.x[0].tolist() == [[1, 2], [3, 4]]


def test_a_first_row_of_names_and_numbers_is_data_in_a_file_with_a_sequence_column():
    s = load_csv(io.StringIO("a,1\na,2\nb,3\n"), sequence_column=0, source="s.csv")
    assert s.feature_names is None and s.x[:, :, 0].tolist() == [[1, 2], [3, 0]]


def test_a_one_column_csv_with_a_spaced_header_stays_one_column():
    s = load_csv(io.BytesIO(b"speed in m/s\n1.5\n2\n"), source="one.csv")
    assert s.feature_names == ["speed in m/s"] and s.x[0].tolist() == [[1.5], [2]]


def test_csv_delimiter_given_and_refused():
    s = load_csv(io.BytesIO(b"1|2\n3|4\n"), delimiter="|", source="p.csv")
    assert s.x[0].tolist() == [[1, 2], [3, 4]]
    with pytest.raises(DataError, match=r"c.csv: row 1, column 1: '1;2' is not a number"):  # not split at ';'
        load_csv(io.BytesIO(b"1;2\n"), delimiter=",", header=False, source="c.csv")
    with pytest.raises(DataError, match=r"delimiter: expected 'auto' or one character that is not a letter, "
                                        r"digit, quote or line end, got 'ab'"):
        load_csv(io.BytesIO(b"1\n"), delimiter="ab")


def test_load_bytes_reads_by_the_name_and_a_1d_array_is_one_feature():
    buf = io.BytesIO()
    np.save(buf, np.arange(3.0))
    s = lstm_core.io.data.load_bytes(buf.getvalue(), "walk.npy")
    assert s.x.shape == (1, 3, 1) and s.source == "walk.npy"
    assert lstm_core.io.data.load_bytes(b"x\n1\n", "w.csv").feature_names == ["x"]
    with pytest.raises(DataError, match=r"w.xlsx: unknown data format '.xlsx'; expected .csv, .tsv, .npy"):
        lstm_core.io.data.load_bytes(b"1", "w.xlsx")


def test_csv_with_a_sequence_column_makes_a_padded_batch(tmp_path):
    s = load_csv(write(tmp_path, "c.csv", "seq,v\na,1\nb,2\na,3\na,4\n"), sequence_column="seq")
    assert s.lengths.tolist() == [3, 1] and s.feature_names == ["v"]
    torch.testing.assert_close(s.x[:, :, 0], torch.tensor([[1.0, 3, 4], [2, 0, 0]]))
    s = load_csv(write(tmp_path, "d.csv", "1,0.5\n1,0.25\n2,1\n"), sequence_column=0)
    assert s.lengths.tolist() == [2, 1]


def test_npy_and_npz_with_lengths(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 5, 2))
    x[1, 3:] = np.nan  # padding may hold anything
    np.savez(tmp_path / "b.npz", x=x, lengths=np.array([5, 3, 4]))
    s = load_data(tmp_path / "b.npz")
    assert s.lengths.tolist() == [5, 3, 4]
    assert float(s.x[1, 3:].abs().sum()) == 0.0  # padding zeroed
    np.save(tmp_path / "one.npy", x[0])
    s = load_data(tmp_path / "one.npy")
    assert s.x.shape == (1, 5, 2)
    np.savez(tmp_path / "single.npz", data=x[0])
    assert load_array(tmp_path / "single.npz").x.shape == (1, 5, 2)


def test_text_one_hot_and_index(tmp_path):
    vocab = write(tmp_path, "v.json", json.dumps(list("abc ")))
    s = load_text(write(tmp_path, "t.txt", "ab c\n"), vocab)
    assert s.x.shape == (1, 4, 4) and s.tokens == [list("ab c")]
    assert s.x[0].argmax(-1).tolist() == [0, 1, 3, 2]
    s = load_text(io.StringIO("ab\ncab\n"), ["a", "b", "c"], encoding="index", lines=True)
    assert s.lengths.tolist() == [2, 3]
    assert s.x[:, :, 0].tolist() == [[0, 1, 0], [2, 0, 1]]


def test_vocabulary_forms(tmp_path):
    assert read_vocab(write(tmp_path, "a.json", '["x", "y"]')) == ["x", "y"]
    assert read_vocab(write(tmp_path, "b.json", '{"x": 1, "y": 0}')) == ["y", "x"]
    assert read_vocab(write(tmp_path, "c.json", '{"0": "x", "1": "y"}')) == ["x", "y"]
    words = load_text(io.StringIO("the cat sat"), ["the", "cat", "sat", "<unk>"])
    assert words.tokens == [["the", "cat", "sat"]]
    unk = load_text(io.StringIO("the dog"), ["the", "cat", "<unk>"], unknown="<unk>")
    assert unk.tokens == [["the", "<unk>"]] and unk.x[0, 1].argmax() == 2


def test_for_model_layout_and_lengths():
    s = from_arrays(np.ones((2, 4, 3)), [4, 2])
    model = lstm_core.LSTM(3, 5, dtype=torch.float64)
    x, lengths = s.for_model(model)
    assert x.shape == (4, 2, 3) and x.dtype == torch.float64 and lengths.tolist() == [4, 2]
    x, lengths = from_arrays(np.ones((4, 3))).for_model(lstm_core.LSTM(3, 5, batch_first=True))
    assert x.shape == (1, 4, 3) and lengths is None
    model.trace(*s.for_model(model)[:1], lengths=s.for_model(model)[1])


def test_input_size_check_messages(tmp_path):
    model = lstm_core.LSTM(6, 4)
    check_input_size(model, from_arrays(np.zeros((2, 6))))
    with pytest.raises(DataError, match=r"a.csv: the data has 2 features per step \(columns speed, angle\), but the "
                                        r"model expects input_size=6"):
        check_input_size(model, load_csv(write(tmp_path, "a.csv", "speed,angle\n1,2\n")))
    with pytest.raises(DataError, match=r"the data has 3 features per step \(one-hot over a vocabulary of 3\), but "
                                        r"the model expects input_size=6. If the model reads an embedding"):
        check_input_size(model, load_text(io.StringIO("ab"), ["a", "b", "c"], source="t.txt"))


CSV_ERRORS = [
    ("", {}, r"e.csv: no rows"),
    ("a,b\n", {}, r"e.csv: a header and no data rows"),
    ("1,2\n3\n", {}, r"e.csv: row 2 has 1 fields, expected 2 like row 1"),
    ("x,y\n1,2\n3,abc\n", {}, r"e.csv: row 3, column 2: 'abc' is not a number"),
    ("1,2\n3,nan\n", {}, r"e.csv: row 2, column 2: 'nan' is not finite; every value must be"),
    ("1,inf\n", {}, r"e.csv: row 1, column 2: 'inf' is not finite"),
    ("1,,2\n", {}, r"e.csv: row 1, column 2: '' is not a number$"),
    # a header guess must not swallow a row that holds numbers (issue 21): it was taken as names ['1', '2\n3']
    ('1,"2\n3"\n4,5\n', {}, r"e.csv: row 1, column 2: '2\\n3' is not a number \(row 1 holds numbers too, so it "
                             r"was read as data, not as a header\)"),
    ("a,1\nb,2\n", {}, r"e.csv: row 1, column 1: 'a' is not a number \(row 1 holds numbers too"),
    ("a,b\n1,2\n", dict(sequence_column="c"), r"e.csv: no column 'c'; columns: \['a', 'b'\]"),
    ("1,2\n", dict(sequence_column=5), r"e.csv: sequence column 5 out of range 0..1"),
    ("a,b\n1,2\n", dict(sequence_column="\u00b2"), r"e.csv: no column '²'; columns: \['a', 'b'\]"),
    ("1,2\n", dict(sequence_column="1" * 5000), r"e.csv: sequence column 1111111111\.\.\. \(5000 digits\) out of range 0..1"),
    ("1\n2\n", dict(sequence_column=0), r"e.csv: no feature columns besides the sequence column"),
]


@pytest.mark.parametrize("text,kw,message", CSV_ERRORS)
def test_csv_errors(tmp_path, text, kw, message):
    with pytest.raises(DataError, match=message):
        load_csv(write(tmp_path, "e.csv", text), **kw)


ARRAY_ERRORS = [
    (dict(x=np.zeros((2, 3, 4, 5))), r"x must have shape \(B, T, I\), \(T, I\) or \(T,\), found \(2, 3, 4, 5\)"),
    (dict(x=np.zeros((0, 3))), r"x is empty, shape \(1, 0, 3\)"),
    (dict(x=np.array([["a", "b"]])), r"x must be numbers, found dtype <U1"),
    (dict(x=np.zeros((2, 3, 1)), lengths=np.array([3, 4])), r"lengths\[1\] = 4, expected 1..3 \(the padded length\)"),
    (dict(x=np.zeros((2, 3, 1)), lengths=np.array([3.0, 1.0])), r"lengths must be 2 integers, one per sequence"),
    (dict(x=np.zeros((2, 3, 1)), lengths=np.array([3])), r"lengths must be 2 integers"),
    (dict(x=np.array([[[0.0], [np.inf]]])), r"inf at sequence 0, step 1, feature 0: every value must be finite"),
    (dict(x=np.zeros((2, 2)), y=np.zeros(2)), r"an NPZ needs an array named 'x' \(and optionally 'lengths'\); "
                                               r"found \['x', 'y'\]|an NPZ needs"),
]


@pytest.mark.parametrize("arrays,message", ARRAY_ERRORS)
def test_array_errors(tmp_path, arrays, message):
    if "y" in arrays:
        arrays = {"a": arrays["x"], "b": arrays["y"]}
    np.savez(tmp_path / "e.npz", **arrays)
    with pytest.raises(DataError, match=r"e.npz: " + message):
        load_array(tmp_path / "e.npz")


def test_object_arrays_are_not_unpickled(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"o.npy: cannot read it as NPY/NPZ without unpickling objects"):
        load_array(tmp_path / "o.npy")
    (tmp_path / "junk.npy").write_bytes(b"nope")
    with pytest.raises(DataError, match=r"junk.npy: .*"):
        load_array(tmp_path / "junk.npy")


TEXT_ERRORS = [
    (dict(text="abz"), r"t.txt: token 2: 'z' is not in the vocabulary \(3 tokens\); pass unknown="),
    (dict(text="ab\nxa", lines=True), r"t.txt: line 2, token 0: 'x' is not in the vocabulary"),
    (dict(text=""), r"t.txt: no text"),
    (dict(text="ab", unknown="?"), r"unknown: '\?' is not in the vocabulary"),
    (dict(text="ab", encoding="embed"), r"encoding: expected one of onehot, index, got 'embed'"),
    (dict(text="ab", tokens="bpe"), r"tokens: expected one of auto, char, word, got 'bpe'"),
]


@pytest.mark.parametrize("kw,message", TEXT_ERRORS)
def test_text_errors(kw, message):
    text = kw.pop("text")
    with pytest.raises(DataError, match=message):
        load_text(io.StringIO(text), ["a", "b", "c"], source="t.txt", **kw)


VOCAB_ERRORS = [
    ("[1, 2]", r"a vocabulary list must hold strings"),
    ('{"a": 0, "b": 0}', r"index 0 is given to both 'a' and 'b'"),
    ('{"a": -1}', r"index -1 of 'a' is negative"),
    ('"abc"', r"expected a JSON list of tokens or a dict token -> index"),
    ("[1,", r"not JSON"),
    ('["a", "a"]', r"a token appears twice"),
    # '²'.isdigit() is True but int('²') fails: an index is written in decimal digits only
    ('{"0": "a", "\u00b2": "b"}', r"key '²' of a dict index -> token is not an index \(a whole number, 0-9\)"),
]


@pytest.mark.parametrize("text,message", VOCAB_ERRORS)
def test_vocab_errors(tmp_path, text, message):
    with pytest.raises(DataError, match=r"v.json: " + message):
        read_vocab(write(tmp_path, "v.json", text))


def test_vocab_index_of_thousands_of_digits_is_over_the_limit():
    """int() refuses over 4,300 digits with its own ValueError; the limit is named first."""
    with pytest.raises(DataError, match=r"v.json: index 1111111111\.\.\. \(5000 digits\) is over the limit of 1,000,000"):
        read_vocab(io.StringIO('{"0": "a", "' + "1" * 5000 + '": "b"}'), "v.json")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_or_folder_is_named_for_what_it_is(tmp_path):
    """A pipe is refused before it is opened (opening it waits for a writer), a folder is a folder."""
    os.mkfifo(tmp_path / "pipe.csv")
    for read in (load_data, read_vocab):
        with pytest.raises(DataError, match=r"pipe.csv: is not a regular file \(a device, pipe or socket\)"):
            read(tmp_path / "pipe.csv")
        with pytest.raises(DataError, match=r": is a folder, expected a file$"):
            read(tmp_path)


def test_load_data_dispatch_errors(tmp_path):
    with pytest.raises(DataError, match=r"nothere.csv: no such file"):
        load_data(tmp_path / "nothere.csv")
    with pytest.raises(DataError, match=r"t.txt: text input needs a vocabulary: pass vocab= a JSON file "
                                        r"\(command line: --vocab\)"):
        load_data(write(tmp_path, "t.txt", "abc"))
    with pytest.raises(DataError, match=r"d.xlsx: unknown data format '.xlsx'"):
        load_data(write(tmp_path, "d.xlsx", "abc"))


# Issue 11: limits, hostile shapes and linear grouping.
from dataclasses import replace  # noqa: E402

from lstm_core.io.data import from_arrays, load_array, load_csv, load_text, read_vocab  # noqa: E402
from lstm_core.limits import Limits  # noqa: E402


def test_csv_with_cr_line_ends_reads_like_newlines():
    a = load_csv(io.BytesIO(b"a,b\r1,2\r3,4\r"), source="cr.csv")
    b = load_csv(io.BytesIO(b"a,b\n1,2\n3,4\n"), source="lf.csv")
    assert torch.equal(a.x, b.x) and a.x.tolist() == [[[1.0, 2.0], [3.0, 4.0]]]


def test_grouping_many_sequences_keeps_file_order():
    rows = ["seq,v"] + [f"s{k % 997},{k}" for k in range(5000)]
    seqs = load_csv(io.StringIO("\n".join(rows)), sequence_column="seq", source="g.csv")
    assert seqs.batch_size == 997
    for b in (0, 500, 996):  # sequence s{b} holds b, b + 997, ... in file order
        want = list(range(b, 5000, 997))
        assert seqs.x[b, :seqs.lengths[b], 0].tolist() == want


LIMITED = [
    (lambda lim: load_csv(io.StringIO("a\n1\n2\n3\n"), source="r.csv", limits=replace(lim, max_rows=3)),
     r"r.csv: rows: 4 is over the limit of 3 \(max_rows; set the environment variable LSTM_CORE_MAX_ROWS"),
    (lambda lim: load_csv(io.StringIO("1,2,3\n"), source="c.csv", limits=replace(lim, max_columns=2)),
     r"c.csv: row 1: columns: 3 is over the limit of 2 \(max_columns"),
    (lambda lim: load_csv(io.StringIO("1,22222\n"), source="f.csv", limits=replace(lim, max_field_bytes=4)),
     r"f.csv: row 1: characters in a field: 5 is over the limit of 4"),
    (lambda lim: load_csv(io.BytesIO(b"1,2\n" * 10), source="b.csv", limits=replace(lim, max_data_bytes=16)),
     r"b.csv: bytes in the file: 17 is over the limit of 16 \(max_data_bytes"),
    (lambda lim: load_csv(io.StringIO("s,v\n" + "".join(f"{k},1\n" for k in range(5)) + "0,1\n" * 6),
                          sequence_column="s", source="p.csv", limits=replace(lim, max_elements=20)),
     r"p.csv: values in the padded batch of 5 sequences x 7 steps x 1 features: 35 is over the limit of 20"),
    (lambda lim: read_vocab(io.StringIO('{"a": 1000000000}'), "v.json"),
     r"v.json: vocabulary size \(largest index \+ 1\): 1,000,000,001 is over the limit of 1,000,000"),
    (lambda lim: read_vocab(io.StringIO('{"a": -1, "b": 3}'), "v.json"), r"v.json: index -1 of 'a' is negative"),
    (lambda lim: read_vocab(io.StringIO("[" * 100000 + "]" * 100000), "v.json"), r"v.json: .* nested too deeply"),
    (lambda lim: load_text(io.StringIO("ab" * 50), ["a", "b"], source="t.txt", limits=replace(lim, max_elements=150)),
     r"t.txt: values of the onehot batch \(1 sequences x 100 tokens x 2; encoding='index' takes 1 per token\): "
     r"200 is over the limit of 150"),
    (lambda lim: from_arrays(np.ones((2, 3), np.complex128), source="c"), r"c: x holds complex numbers"),
    (lambda lim: from_arrays([[1.0], [1.0, 2.0]], source="r"), r"r: x must be a rectangular array of numbers"),
    (lambda lim: load_csv(io.StringIO("1\n"), header="yes"), r"header: expected True, False or 'auto', got 'yes'"),
    (lambda lim: load_csv(io.StringIO("1\n"), sequence_column=True), r"sequence_column: expected a column name"),
    (lambda lim: load_text(io.StringIO("ab"), ["a", "b"], lines="yes"), r"lines: expected True or False, got 'yes'"),
]


@pytest.mark.parametrize("call,message", LIMITED)
def test_limits_and_hostile_shapes(call, message):
    with pytest.raises(DataError, match=message):
        call(Limits.from_env())


def test_npy_header_is_checked_before_reading(tmp_path):
    from helpers.hostile import npy_header
    (tmp_path / "h.npy").write_bytes(npy_header((10 ** 15,)) + b"\0" * 8)
    with pytest.raises(DataError, match=r"values in x \(shape \(1000000000000000,\)\): 1,000,000,000,000,000 is over"):
        load_array(tmp_path / "h.npy")
    (tmp_path / "s.npy").write_bytes(npy_header((10, 3)) + b"\0" * 8)
    with pytest.raises(DataError, match=r"declares shape \(10, 3\) of float32 \(120 bytes\), but holds only 8"):
        load_array(tmp_path / "s.npy")
    buf = io.BytesIO()
    np.savez_compressed(buf, x=np.ones((2, 3, 1)))
    (tmp_path / "t.npz").write_bytes(buf.getvalue()[:-25])
    with pytest.raises(DataError, match=r"t.npz: a damaged NPZ \(zip\) file"):
        load_array(tmp_path / "t.npz")
    np.save(tmp_path / "f.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))  # read in its order
    assert load_array(tmp_path / "f.npy").x[0].tolist() == [[0, 1, 2], [3, 4, 5]]
