"""Event mode: an organiser's indexed event served to its runners with no upload. Several
browser sessions at once share one loaded store; each sees only its own query and results."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from streamlit.testing.v1 import AppTest

from facefind.ui.event import event_location, open_event

from .test_app import ROOT, shown_photos


def runner(monkeypatch, event_index: Path) -> AppTest:
    monkeypatch.setenv("FACEFIND_EVENT", str(event_index))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    app.run()
    assert not app.exception, app.exception
    return app


def test_runners_search_at_once_and_never_see_each_others_queries(
    monkeypatch, event_index: Path, all_photos: dict[str, bytes]
) -> None:
    first, second = runner(monkeypatch, event_index), runner(monkeypatch, event_index)
    assert "5 photos of this event" in first.markdown[0].value
    labels = [uploader.label.lower() for uploader in first.file_uploader]
    assert labels and not any("zip" in label or "index" in label for label in labels), labels
    first.file_uploader(key="query-photos").set_value(
        ("me.jpg", all_photos["img5.jpg"], "image/jpeg")
    )
    first.run()
    second.text_input[0].input("4711").run()
    first.run()
    assert not first.exception and not second.exception
    assert set(shown_photos(first)) == {"img1.jpg", "img2.jpg"}
    assert shown_photos(second) == ["bib.jpg"], "the other runner's selfie is not in view"
    assert (
        first.session_state["session"].album.index is second.session_state["session"].album.index
    ), "one store loaded for every session, not a copy each"
    first.button(key="faces-prepare").click().run()
    data = first.session_state["session"].album.download[1].data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["img1.jpg", "img2.jpg"]
        assert archive.read("img1.jpg") == all_photos["img1.jpg"]
    assert second.session_state["session"].album.download is None


def test_a_photo_gone_from_the_folder_is_left_out_and_every_other_photo_served(
    monkeypatch, tmp_path: Path, event_index: Path, all_photos: dict[str, bytes], caplog
) -> None:
    assert event_location(["--event", str(event_index)]) == str(event_index)
    assert event_location(["--event=x.facefind"]) == "x.facefind"
    moved = tmp_path / "moved.facefind"
    moved.write_bytes(event_index.read_bytes())
    source = Path(open_event(str(event_index)).store.sources[0])
    (source / "img2.jpg").rename(source / "img2.moved")
    try:
        with caplog.at_level("WARNING", logger="facefind"):
            event = open_event(str(moved))
        assert "1 photos of the event are not in its folders" in caplog.text
        assert "img2.jpg" in caplog.text, "the organiser's log names it"
        app = runner(monkeypatch, moved)
        app.file_uploader(key="query-photos").set_value(
            ("me.jpg", all_photos["img5.jpg"], "image/jpeg")
        )
        app.run()
        assert not app.exception
        assert shown_photos(app) == ["img1.jpg"], "img2 is gone; img1 is still served"
        page = " ".join(str(element.value) for element in app.markdown)
        assert "img2" not in page and "index" not in page, "nothing of it reaches the runner"
        assert len(event.store.photos) == 5
    finally:
        (source / "img2.moved").rename(source / "img2.jpg")
