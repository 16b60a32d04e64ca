"""Swell rows kept between runs (symbp.figures.kept_swell): read back they are the rows
measured, the documents byte for byte the same; anything else under their name, a user's
cost, or a folder others may write is never read."""

import dataclasses
import json

import pytest

import symbp
from symbp.figures import kept_swell, swell

QUESTION = ((1, 2), 2, "mse", 27)  # depths, width, cost, route limit: about 0.1 CPU-s


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "swell"


@pytest.fixture
def measured(monkeypatch):
    """swell.measure, the calls it got noted."""
    calls, real = [], swell.measure

    def noted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(swell, "measure", noted)
    return calls


def counts(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_rows_are_kept_and_read_back_as_measured(folder, measured):
    first = kept_swell.measure(*QUESTION)
    assert counts(first) == counts(swell.measure((1, 2), [2], cost="mse", max_paths=27))
    assert len(list(folder.iterdir())) == 1 and len(measured) == 2
    assert kept_swell.measure(*QUESTION) == first and len(measured) == 2  # read, not measured


def test_a_file_of_another_question_or_damaged_is_measured_again(folder, measured):
    kept_swell.measure(*QUESTION)
    (path,) = folder.iterdir()
    data = json.loads(path.read_text())
    data["question"] = data["question"].replace('"width": 2', '"width": 3')
    data["rows"][0]["paths"] = 99
    path.write_text(json.dumps(data))
    assert kept_swell.measure(*QUESTION)[0]["paths"] != 99 and len(measured) == 2
    path.write_text("{not json")
    assert kept_swell.measure(*QUESTION)[0]["paths"] != 99 and len(measured) == 3


def test_a_folder_others_may_write_is_not_read(folder, measured):
    kept_swell.measure(*QUESTION)
    (path,) = folder.iterdir()
    data = json.loads(path.read_text())
    data["rows"][0]["paths"] = 99
    path.write_text(json.dumps(data))
    folder.chmod(0o777)
    assert kept_swell.measure(*QUESTION)[0]["paths"] != 99 and len(measured) == 2


def test_a_users_cost_is_measured_every_time(folder, measured, monkeypatch):
    monkeypatch.setitem(symbp.COSTS, "mse", dataclasses.replace(symbp.COSTS["mse"]))
    kept_swell.measure(*QUESTION)
    kept_swell.measure(*QUESTION)
    assert len(measured) == 2
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_document_is_the_same_with_its_rows_read_back(folder, measured):
    from symbp.document import figures

    d = symbp.derive(symbp.Network([2, 3, 2]))
    texts = []
    for _ in range(2):
        figures.swell_rows.cache_clear()  # the process's own cache: read from the folder
        texts.append(symbp.render(d, "md"))
    assert len(measured) == 1 and texts[0] == texts[1] and "recursion" in texts[0]
