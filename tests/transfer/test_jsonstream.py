"""The streaming JSON reader: whatever the read size, it finds the values and the same error positions as json."""
from __future__ import annotations

import json

import pytest

from linkblog.transfer.jsonstream import JsonReader, JsonStreamError

ROWS = ",\n".join(json.dumps({"id": n, "url": f"https://example.org/{n}", "note": "x" * 150, "n": 10 ** 12 + n})
                  for n in range(800))
DOCUMENT = '{"rows": [\n' + ROWS + '\n], "end": true}'


def chunks(text: str, size: int):  # noqa: ANN201
    return (text[i:i + size] for i in range(0, len(text), size))


def read_all(reader: JsonReader) -> dict:
    found = {}
    for key in reader.members():
        if key == "rows":
            found[key] = [reader.value() for _ in reader.items()]
        else:
            found[key] = reader.value()
    reader.end()
    return found


@pytest.mark.parametrize("size", [1, 3, 7, 4096, 1 << 16])
def test_values_straddling_any_read_size_come_out_whole(size):
    assert read_all(JsonReader(chunks(DOCUMENT, size))) == json.loads(DOCUMENT)


# 1 MB: the whole document arrives in one read, so the reader fails with far more than a chunk consumed
@pytest.mark.parametrize("size", [5, 4096, 1 << 16, 1 << 20])
@pytest.mark.parametrize("row", [0, 400, 799])  # the last row sits in the final read: nothing is left to fill
def test_an_invalid_value_is_placed_where_json_places_it(size, row):
    bad = DOCUMENT.replace(f'"id": {row},', '"id": tru,', 1)
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(bad)
    with pytest.raises(JsonStreamError) as found:
        read_all(JsonReader(chunks(bad, size)))
    assert found.value.kind == "invalid"
    assert (found.value.line, found.value.column) == (expected.value.lineno, expected.value.colno)


@pytest.mark.parametrize("size", [5, 1 << 16])
def test_a_cut_document_says_truncated(size):
    for cut in (len(DOCUMENT) // 3, len(DOCUMENT) - 2, 10):
        with pytest.raises(JsonStreamError) as found:
            read_all(JsonReader(chunks(DOCUMENT[:cut], size)))
        assert found.value.kind == "truncated" and "truncated" in str(found.value)


def test_missing_comma_and_trailing_text_are_named():
    with pytest.raises(JsonStreamError, match=r"expected ',' or '\]', found '\{' at line 1 column 14"):
        read_all(JsonReader(['{"rows": [{} {}]}']))
    with pytest.raises(JsonStreamError, match="after the end of the document at line 2 column 1"):
        read_all(JsonReader(['{"rows": []}\n', "x"]))
