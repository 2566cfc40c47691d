"""The packed candidate payload (services/common/candidate_payload.py): whatever the
paths and the cosines, rounded as the job rounds them, a point's JSON gives back the
very same candidates, as the lists written before did."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.candidate_payload import (
    Candidates,
    decode,
    encode,
    pack_scores,
    unpack_scores,
)

cosines = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)
paths = st.text(alphabet=st.characters(blacklist_characters="\0"), min_size=1, max_size=40)


@st.composite
def candidates(draw: st.DrawFn) -> Candidates:
    found = draw(st.lists(paths, max_size=40))
    structure = draw(st.lists(cosines, min_size=len(found), max_size=len(found)))
    text = draw(st.lists(cosines, min_size=len(found), max_size=len(found)))
    # rounded as services/ingest/candidates.py rounds them (numpy) or Python would
    rounded = np.round(np.array(structure, dtype=np.float64), 6).tolist()
    return Candidates(
        paths=found,
        structure=rounded,
        text=[round(x, 6) for x in text],
        imported_by=draw(st.lists(st.sampled_from(found))) if found else [],
    )


def _through_json(fields: dict[str, object]) -> dict[str, object]:
    return dict(json.loads(json.dumps(fields)))


@settings(max_examples=300)
@given(candidates())
def test_packed_fields_give_back_the_same_candidates(written: Candidates) -> None:
    read = decode(_through_json(encode(written)))
    assert read is not None
    assert read.paths == tuple(written.paths)
    assert read.imported_by == tuple(written.imported_by)
    # the same floats, bit for bit: the ranking's scores stay what they were
    assert [x.hex() for x in read.structure] == [float(x).hex() for x in written.structure]
    assert [x.hex() for x in read.text] == [float(x).hex() for x in written.text]


@settings(max_examples=200)
@given(candidates())
def test_packed_and_listed_payloads_read_the_same(written: Candidates) -> None:
    listed = {
        "candidates": list(written.paths),
        "candidate_structure": list(written.structure),
        "candidate_text": list(written.text),
        "imported_by": list(written.imported_by),
    }
    assert decode(_through_json(encode(written))) == decode(_through_json(listed))


@settings(max_examples=200)
@given(st.lists(st.floats(min_value=-1.0, max_value=1.0, allow_nan=False), max_size=50))
def test_any_cosine_is_stored_as_its_six_decimals(values: list[float]) -> None:
    stored = unpack_scores(pack_scores(values))
    expected = np.round(np.array(values, dtype=np.float64), 6).tolist()
    assert [x.hex() for x in stored] == [x.hex() for x in expected]  # -0.0 included
