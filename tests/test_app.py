"""The Streamlit app, driven by Streamlit's own AppTest: upload, face search, text search."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from .builders import printed_jpeg, solid_jpeg, zip_bytes

ROOT = Path(__file__).resolve().parent.parent
PERSON01 = ["img1.jpg", "img2.jpg", "img5.jpg"]
OTHERS = ["img16.jpg", "img20.jpg", "img33.jpg"]


@pytest.fixture(autouse=True)
def offline_dlib(monkeypatch, tiny_uform: Path) -> None:
    """The app as offline here: Dlib faces (FaceNet's weights can't be had), the tiny UForm."""
    monkeypatch.setenv("FACEFIND_UFORM_MODEL", str(tiny_uform))


def start_app() -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    app.run()
    assert not app.exception
    return app


def choose_model(app: AppTest, model: str = "Dlib") -> None:
    app.sidebar.selectbox[0].set_value(model)


def upload_album(app: AppTest, files: dict[str, bytes], wait_for_words: bool = True) -> None:
    """Upload an album; the faces are indexed at once, the words after them in the background
    (facefind.indexing.reading): unless told not to, wait for them as a user who waits would."""
    choose_model(app)
    app.main.file_uploader[0].set_value(("data.zip", zip_bytes(files), "application/zip"))
    app.run()
    assert not app.exception, app.exception
    reading = (
        app.session_state["session"].album.reading
        if "session" in app.session_state and app.session_state["session"].album
        else None
    )
    if wait_for_words and reading is not None:
        reading.wait(300)
        app.run()  # the page once the words are read (what its progress fragment triggers)
        assert not app.exception, app.exception
        assert app.session_state["session"].album.reading is None


def test_faces_are_searchable_while_the_bib_numbers_are_still_read(
    monkeypatch, all_photos: dict[str, bytes]
) -> None:
    """Words are read after the faces: face search works at once, a bib search says how many
    photos are still unread, and once they are read the same search finds the bib."""
    import threading

    from facefind.analysis.words import WordReader

    gate = threading.Event()
    real_read = WordReader.read

    def held_read(self, photo, faces=()):  # the real reader, held until the test lets it go
        gate.wait(120)
        return real_read(self, photo, faces)

    monkeypatch.setattr(WordReader, "read", held_read)
    app = start_app()
    album = {
        "race/bib.jpg": printed_jpeg("4711"),
        "race/other.jpg": printed_jpeg("4712"),
        "race/me.jpg": all_photos["img1.jpg"],
    }
    try:
        upload_album(app, album, wait_for_words=False)
        progress = [bar.text for bar in app.get("progress")]
        assert progress == ["Reading bib numbers: 0 of 3 photos"], progress
        app.file_uploader(key="query-photos").set_value(
            ("q.jpg", all_photos["img2.jpg"], "image/jpeg")
        )
        app.text_input[0].input("4711").run()
        assert not app.exception
        assert "race/me.jpg" in shown_photos(app)  # by face, while the words are read
        notes = [info.value for info in app.info]
        assert any("of 3 photos are still being read" in note for note in notes), notes
        assert not matched_words(app, "4711")
    finally:
        gate.set()
    app.session_state["session"].album.reading.wait(120)
    app.run()
    assert not app.exception
    assert not app.get("progress")
    assert matched_words(app, "4711") == ["race/bib.jpg"]
    assert not any("still being read" in info.value for info in app.info)


def matched_words(app: AppTest, text: str) -> list[str]:
    """The photos shown because their words say `text` (their caption quotes it)."""
    captions = image_captions(app)
    return [c.split(" · ")[1] for c in captions if " · " in c and f"“{text}”" in c]


def shown_photos(app: AppTest) -> list[str]:
    """Names of the result photos on the page, in order (captions read 'NN% · name', then why
    a text result matched)."""
    captions = image_captions(app)
    return [caption.split(" · ")[1] for caption in captions if " · " in caption]


def image_captions(app: AppTest) -> list[str]:
    """The captions as a reader sees them (names are escaped in the page's Markdown, so that a
    file named like a link is shown as it is: results.plain_text)."""
    captions = [caption for image in app.get("image") for caption in image.captions]
    return [re.sub(r"\\(.)", r"\1", caption) for caption in captions]


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


@pytest.fixture(scope="module")
def album_files(all_photos: dict[str, bytes]) -> dict[str, bytes]:
    files = {f"race/{name}": all_photos[name] for name in PERSON01 + OTHERS}
    files["race/couple.jpg"] = all_photos["couple.jpg"]
    files["race/red.jpg"] = solid_jpeg((220, 30, 30))
    files["race/notes.txt"] = b"not a photo"
    return files


@pytest.fixture(scope="module")
def saved_index(album_files: dict[str, bytes], tiny_uform: Path) -> bytes:
    """`album_files` indexed once for the whole module, as the app indexes it (Dlib faces, the
    tiny UForm, words read), saved as a .facefind file: the tests that are not about indexing
    open it with the album instead of indexing the album again."""
    from facefind.analysis.semantic import PhotoTextModel
    from facefind.analysis.words import WordReader
    from facefind.config import face_settings
    from facefind.indexing.builder import build_index

    index = build_index(
        zip_bytes(album_files),
        face_settings("Dlib"),
        photo_model=PhotoTextModel(str(tiny_uform)),
        word_reader=WordReader(),
    )
    buffer = io.BytesIO()
    index.save(buffer)
    return buffer.getvalue()


def open_indexed(app: AppTest, files: dict[str, bytes], saved: bytes) -> None:
    """Upload the album with its saved index, as a user who saved it before: nothing is
    indexed again (the screen says so)."""
    choose_model(app)
    app.sidebar.file_uploader[0].set_value(("album.facefind", saved, "application/octet-stream"))
    app.main.file_uploader[0].set_value(("data.zip", zip_bytes(files), "application/zip"))
    app.run()
    assert not app.exception, app.exception


def test_face_search_shows_the_right_photos_and_the_slider_does_not_reindex(
    album_files: dict[str, bytes], all_photos: dict[str, bytes]
) -> None:
    app = start_app()
    upload_album(app, album_files)
    assert metrics(app) == {"Photos": "8", "Faces found": "8", "Files skipped": "1"}
    indexed = app.session_state["session"].album

    app.file_uploader(key="query-photos").set_value(
        ("me.jpg", all_photos["img4.jpg"], "image/jpeg")
    )
    app.run()
    assert not app.exception
    ticked = [checkbox.value for checkbox in app.main.checkbox]
    assert ticked[0] and not any(ticked[1:]), "the largest face of a query is ticked, only it"
    found = shown_photos(app)
    assert set(found) == {f"race/{name}" for name in PERSON01} | {"race/couple.jpg"}
    assert app.session_state["session"].album is indexed
    app.button(key="faces-prepare").click().run()
    assert not app.exception
    names, prepared = app.session_state["session"].album.download
    zip_data = prepared.data
    assert set(names) == set(found) and zip_data[:2] == b"PK"
    assert app.get("download_button"), "the download button replaces the prepare button"
    first = app.session_state["session"].album.index.photos.id_of(found[0])
    app.button(key=f"faces-view-{first}").click().run()
    assert not app.exception
    large = [c for c in image_captions(app) if " of 4 · " in c]
    assert large == [f"1 of 4 · {found[0]}"], "the larger view says where it is in the results"
    assert app.button(key="large-next") and app.button(key="large-previous")  # test_browser
    assert any(button.label == "Download" for button in app.get("download_button"))
    # choose two photos: the zip holds those two only
    second = app.session_state["session"].album.index.photos.id_of(found[1])
    app.checkbox(key=f"faces-choose-{first}").check()
    app.checkbox(key=f"faces-choose-{second}").check().run()
    app.button(key="faces-prepare").click().run()
    names, _ = app.session_state["session"].album.download
    assert set(names) == {found[0], found[1]}
    assert any("the 2 chosen photos" in button.label for button in app.get("download_button"))

    app.slider(key="level").set_value(95)
    app.run()
    assert app.session_state["session"].album is indexed, "moving the slider must not re-index"
    assert len(shown_photos(app)) < len(found)
    app.slider(key="level").set_value(100)
    app.run()
    assert shown_photos(app) == []
    assert any("Try lowering it" in info.value for info in app.info)


def test_selfie_from_the_camera_and_a_photo_without_a_face(
    album_files, saved_index, all_photos
) -> None:
    app = start_app()
    open_indexed(app, album_files, saved_index)
    app.toggle(key="use-camera").set_value(True).run()
    app.camera_input(key="selfie").set_value(("selfie.jpg", all_photos["img2.jpg"], "image/jpeg"))
    app.file_uploader(key="query-photos").set_value(
        ("sky.jpg", solid_jpeg((90, 140, 220)), "image/jpeg")
    )
    app.run()
    assert not app.exception
    assert any("No face found in sky.jpg" in warning.value for warning in app.warning)
    assert "race/img1.jpg" in shown_photos(app)


def test_two_people_together(album_files, saved_index, all_photos) -> None:
    app = start_app()
    open_indexed(app, album_files, saved_index)
    app.file_uploader(key="query-photos").set_value(
        ("us.jpg", all_photos["couple.jpg"], "image/jpeg")
    )
    app.run()
    for checkbox in app.checkbox:
        checkbox.check()
    app.run()
    app.radio(key="mode").set_value("all of them together")
    app.slider(key="level").set_value(20)
    app.run()
    assert not app.exception
    assert shown_photos(app) == ["race/couple.jpg"]


def test_text_search_tab(album_files, saved_index) -> None:
    app = start_app()
    open_indexed(app, album_files, saved_index)
    app.file_uploader(key="like-picture").set_value(
        ("pic.jpg", solid_jpeg((200, 40, 40)), "image/jpeg")
    )
    app.run()
    assert shown_photos(app)[0] == "race/red.jpg", "more like an uploaded picture"
    app.text_input[0].input("red").run()
    assert not app.exception
    assert shown_photos(app)[0] == "race/red.jpg"
    red = app.session_state["session"].album.index.photos.id_of("race/red.jpg")
    app.button(key=f"text-like-{red}").click().run()
    assert not app.exception
    assert any("More like" in markdown.value for markdown in app.markdown)
    assert "race/red.jpg" not in shown_photos(app), "more like this leaves the photo itself out"


def test_a_bib_number_is_found_without_the_text_model(monkeypatch, tmp_path: Path) -> None:
    """Offline, before UForm's download: numbers and words written in the photos work, the
    tab says descriptions need the model, and the result names the number it matched."""
    monkeypatch.setenv("FACEFIND_UFORM_MODEL", str(tmp_path / "no-model"))
    app = start_app()
    album = {"race/bib.jpg": printed_jpeg("4711"), "race/other.jpg": printed_jpeg("4712")}
    upload_album(app, album)
    assert any("work now" in caption.value for caption in app.caption)
    app.text_input[0].input("4711").run()
    assert not app.exception
    assert shown_photos(app) == ["race/bib.jpg"]
    assert any("“4711”" in caption for caption in image_captions(app))


def test_a_choice_that_cannot_be_had_is_said_and_indexes_nothing_again(
    album_files, monkeypatch
) -> None:
    """FaceNet offline: the sidebar says so, in view, and the album indexed with Dlib stays."""
    from deepface.commons import weight_utils
    from deepface.modules import modeling

    from facefind.analysis.runtime import deepface_weights_folder

    def offline(file_name: str, source_url, compress_type=None) -> str:
        target = deepface_weights_folder() / file_name
        if target.is_file():
            return str(target)
        raise ValueError(f"An exception occurred while downloading {file_name}")

    app = start_app()
    upload_album(app, album_files)
    indexed = app.session_state["session"].album
    monkeypatch.setattr(weight_utils, "download_weights_if_necessary", offline)
    monkeypatch.setitem(modeling.cached_models["facial_recognition"], "Facenet", None)
    app.sidebar.selectbox[0].set_value("Facenet").run()
    assert app.session_state["session"].album is indexed, "a new setting waits for Apply"
    app.button(key="settings-apply").click().run()
    assert not app.exception
    assert any("Facenet face model is not available" in w.value for w in app.sidebar.warning)
    assert app.sidebar.selectbox[0].value == "Dlib", "Settings show the model in effect"
    assert app.session_state["session"].album is indexed, "nothing indexed again for nothing"
    assert any("In use: the Dlib face model" in c.value for c in app.sidebar.caption)


def test_a_setting_changed_with_an_album_waits_for_apply(album_files) -> None:
    """Dragging the face-confidence bar does not index the album again at once: the sidebar
    asks, Cancel puts the bar back, Apply indexes again with the new bar."""
    app = start_app()
    upload_album(app, album_files)
    indexed = app.session_state["session"].album
    bar = app.sidebar.slider(key="min-confidence")
    own = bar.value
    bar.set_value(0.9).run()
    assert app.session_state["session"].album is indexed
    assert any("Apply these settings?" in w.value for w in app.sidebar.warning)
    app.button(key="settings-cancel").click().run()
    assert app.sidebar.slider(key="min-confidence").value == own
    assert not [w for w in app.sidebar.warning if "Apply these settings?" in w.value]
    assert app.session_state["session"].album is indexed
    app.sidebar.slider(key="min-confidence").set_value(0.9).run()
    app.button(key="settings-apply").click().run()
    assert not app.exception
    again = app.session_state["session"].album
    assert again is not indexed and again.key[1].min_confidence == 0.9


def test_bad_zip_is_a_message_not_a_traceback() -> None:
    app = start_app()
    choose_model(app)
    app.main.file_uploader[0].set_value(("data.zip", b"not a zip", "application/zip"))
    app.run()
    assert not app.exception
    assert any("not a zip archive" in error.value for error in app.error)


def test_forget_this_album_drops_everything(album_files) -> None:
    app = start_app()
    forget_buttons = [
        button for button in app.sidebar.button if button.label == "Forget this album"
    ]
    assert forget_buttons == [], "nothing to forget before an album is loaded"
    upload_album(app, album_files)
    assert app.session_state["session"].album is not None
    app.sidebar.button[0].click().run()
    assert not app.exception
    assert app.session_state["session"].album is None
    assert any("forgotten" in success.value for success in app.success)
    assert not app.metric, "nothing of the album is shown any more"
    assert not app.get("image") and not app.tabs, "no results, no search"
    assert any("Upload the zip of your event photos" in text.value for text in app.markdown)
    assert app.main.file_uploader[0].value is None, "the album upload is emptied"


def test_states_say_what_they_wait_for(saved_index: bytes) -> None:
    """A saved index opened first: the page says it waits for that index's album. An album
    whose only photo is broken: no search and no index to save, the reason under Details."""
    app = start_app()
    app.sidebar.file_uploader[0].set_value(
        ("race.facefind", saved_index, "application/octet-stream")
    )
    app.run()
    assert not app.exception
    notes = [info.value for info in app.info]
    assert any("Opened the saved index race.facefind. Now upload" in note for note in notes)
    assert not any("Upload the zip of your event photos" in text.value for text in app.markdown)

    app = start_app()
    upload_album(app, {"broken.jpg": b"\xff\xd8 not really a photo"})
    assert metrics(app)["Photos"] == "0"
    assert any("No photo of this album could be read" in w.value for w in app.warning)
    assert not app.tabs and not app.get("download_button"), "nothing to search or save"


# --- nothing stale, nothing wrong (issue 12) -------------------------------------------------


def test_a_new_album_with_the_same_names_never_gets_the_old_albums_bytes(all_photos) -> None:
    first = {"race/a.jpg": all_photos["img1.jpg"], "race/b.jpg": all_photos["img2.jpg"]}
    second = {"race/a.jpg": all_photos["img5.jpg"], "race/b.jpg": all_photos["img6.jpg"]}
    app = start_app()
    upload_album(app, first)
    app.file_uploader(key="query-photos").set_value(
        ("me.jpg", all_photos["img4.jpg"], "image/jpeg")
    )
    app.run()
    app.button(key="faces-prepare").click().run()
    assert app.session_state["session"].album.download is not None
    upload_album(app, second)  # a new upload: same names, other photos
    assert app.session_state["session"].album.download is None, "the old album's zip is gone"
    app.button(key="faces-prepare").click().run()
    import io
    import zipfile

    with zipfile.ZipFile(
        io.BytesIO(app.session_state["session"].album.download[1].data)
    ) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == second


def test_more_like_this_and_face_results_do_not_outlive_their_album_or_query(
    album_files, all_photos
) -> None:
    app = start_app()
    upload_album(app, album_files)
    app.file_uploader(key="query-photos").set_value(
        ("me.jpg", all_photos["img4.jpg"], "image/jpeg")
    )
    app.text_input[0].input("red").run()
    app.button(
        key=f"text-like-{app.session_state['session'].album.index.photos.id_of('race/red.jpg')}"
    ).click().run()
    assert any(text.value == "More like **race/red.jpg**" for text in app.markdown)
    assert any("Only photos of the people chosen" in box.label for box in app.checkbox)
    app.file_uploader(key="query-photos").set_value([]).run()  # the query photo removed
    assert not app.exception
    assert not any("Only photos of the people chosen" in box.label for box in app.checkbox)
    upload_album(app, {"one.jpg": all_photos["img20.jpg"]})  # a smaller album
    assert not app.exception
    assert not any(text.value.startswith("More like") for text in app.markdown)
    assert not any(button.label == "Back to the description" for button in app.button)
    assert metrics(app)["Photos"] == "1"


def test_the_same_query_photo_twice_is_shown_once(album_files, saved_index, all_photos) -> None:
    app = start_app()
    open_indexed(app, album_files, saved_index)
    app.file_uploader(key="query-photos").set_value(
        [
            ("me.jpg", all_photos["img4.jpg"], "image/jpeg"),
            ("me again.jpg", all_photos["img4.jpg"], "image/jpeg"),
        ]
    )
    app.run()
    assert not app.exception
    assert [c.value for c in app.caption if "tick who to look for" in c.value] == [
        "Faces in me.jpg: tick who to look for"
    ]
    assert set(shown_photos(app)) >= {f"race/{name}" for name in PERSON01}


def test_several_query_photos_share_one_compact_row(album_files, saved_index, all_photos) -> None:
    """Three query photos: one caption and one row of faces, not a row each, so the results
    stay near the top; the first face of each photo is ticked, and the chosen faces are framed
    in their outline colour where they are, with no second row of them as a legend."""
    app = start_app()
    open_indexed(app, album_files, saved_index)
    names = ("img4.jpg", "img2.jpg", "couple.jpg")
    app.file_uploader(key="query-photos").set_value(
        [(name, all_photos[name], "image/jpeg") for name in names]
    )
    app.run()
    assert not app.exception
    assert [c.value for c in app.caption if "tick who to look for" in c.value] == [
        "Faces in img4.jpg, img2.jpg, couple.jpg: tick who to look for, framed in the colour "
        "their photos are outlined in"
    ]
    ticks = [box for box in app.checkbox if str(box.key).startswith("pick-")]
    assert len(ticks) >= 4 and sum(box.value for box in ticks) == 3
    assert not [c for c in image_captions(app) if c.startswith("person ")], "no legend row"


def test_another_photo_of_you_searches_as_one_person(album_files, saved_index, all_photos) -> None:
    """One query photo says how to find more (add another photo of you); two photos of the
    same person, "one person, several photos": their photos, all of them."""
    app = start_app()
    open_indexed(app, album_files, saved_index)
    app.file_uploader(key="query-photos").set_value(
        [("me.jpg", all_photos["img4.jpg"], "image/jpeg")]
    )
    app.run()
    hint = "Missing some of your photos? Add another photo of you above"
    assert any(c.value.startswith(hint) for c in app.caption)
    alone = set(shown_photos(app))
    app.file_uploader(key="query-photos").set_value(
        [(name, all_photos[name], "image/jpeg") for name in ("img4.jpg", "img11.jpg")]
    )
    app.run()
    app.radio(key="mode").set_value("one person, several photos").run()
    assert not app.exception
    assert app.radio(key="mode").value == "one person, several photos"
    assert not any(c.value.startswith(hint) for c in app.caption), "said once it is done"
    found = set(shown_photos(app))
    assert found == {f"race/{name}" for name in PERSON01} | {"race/couple.jpg"}
    assert alone <= found


def test_what_the_screen_says(album_files, all_photos) -> None:
    app = start_app()
    upload_album(app, album_files)
    assert any(
        "In use: the Dlib face model, the libfacedetection detector" in c.value
        for c in app.sidebar.caption
    )
    app.file_uploader(key="query-photos").set_value(
        [
            ("broken.jpg", all_photos["img4.jpg"][:300], "image/jpeg"),
            ("us.jpg", all_photos["couple.jpg"], "image/jpeg"),
        ]
    )
    app.run()
    assert any(w.value.startswith("Cannot use broken.jpg:") for w in app.warning), [
        w.value for w in app.warning
    ]
    for checkbox in app.checkbox:
        checkbox.check()
    app.run()
    app.radio(key="mode").set_value("all of them together").run()
    assert shown_photos(app) == ["race/couple.jpg"]
    assert any(markdown.value == "**1 photo**" for markdown in app.markdown), "not '1 photos'"
    app.file_uploader(key="query-photos").set_value(
        ("us.jpg", all_photos["couple.jpg"], "image/jpeg")
    ).run()
    for checkbox in app.checkbox:
        checkbox.check()
    app.run()
    assert app.radio(key="mode").value == "all of them together", "the choice survives"
    assert shown_photos(app) == ["race/couple.jpg"]


def test_a_refused_album_leaves_no_progress_bar_behind() -> None:
    app = start_app()
    choose_model(app)
    app.main.file_uploader[0].set_value(
        ("data.zip", zip_bytes({"notes.txt": b"x"}), "application/zip")
    )
    app.run()
    assert any("no photos" in error.value for error in app.error)
    assert not app.get("progress"), "no 'Indexing 0 photos' bar left on the page"


# --- People (issue 14) -------------------------------------------------------------------------


def test_people_tab_shows_everyone_and_a_persons_photos_for_download(
    album_files, saved_index, all_photos
) -> None:
    app = start_app()
    open_indexed(app, album_files, saved_index)
    # the album has person01 in four photos (three of PERSON01, and couple.jpg)
    first = app.button(key="person-1")
    assert first.label == "4 photos"
    assert any("person seen in two or more photos" in c.value for c in app.caption)
    first.click().run()
    assert not app.exception
    # the person's own page: the wall is gone, their photos come first, a way back
    assert app.button(key="people-back").label == "Back to everyone"
    assert not [button for button in app.button if (button.key or "").startswith("person-")]
    assert set(shown_photos(app)) == {f"race/{name}" for name in PERSON01} | {"race/couple.jpg"}
    assert any("Person 1 · 4 photos" in header.value for header in app.subheader)
    app.button(key="people-prepare").click().run()
    names, prepared = app.session_state["session"].album.download
    zip_data = prepared.data
    assert set(names) == set(shown_photos(app)) and zip_data[:2] == b"PK"
    app.toggle(key="more-like-1").set_value(True).run()
    assert not app.exception
    assert {f"race/{name}" for name in PERSON01} <= set(shown_photos(app))
    app.button(key="people-back").click().run()
    assert app.button(key="person-1").label == "4 photos"
    # people seen in one photo are there, folded
    assert any("seen in one photo" in expander.label for expander in app.expander)


def test_a_person_can_be_named_hidden_and_corrected(album_files, saved_index) -> None:
    app = start_app()
    open_indexed(app, album_files, saved_index)
    app.button(key="person-1").click().run()
    app.text_input(key="name-1").input("Anna Nowak").run()
    assert any("Anna Nowak · 4 photos" in header.value for header in app.subheader)
    couple = app.session_state["session"].album.index.photos.id_of("race/couple.jpg")
    app.button(key=f"people-not-{couple}").click().run()
    assert not app.exception
    assert "race/couple.jpg" not in shown_photos(app)
    assert any("Anna Nowak · 3 photos" in header.value for header in app.subheader)
    app.button(key="people-back").click().run()
    assert app.button(key="person-1").label == "3 photos"
    app.button(key="undo").click().run()
    assert app.button(key="person-1").label == "4 photos", "Undo gives the photo back"
    app.button(key="person-1").click().run()
    app.button(key="hide-1").click().run()
    assert not [button for button in app.button if button.key == "person-1"]
    app.button(key="unhide-1").click().run()
    assert app.button(key="person-1").label == "4 photos"


def keys_in_order(node) -> list[str]:
    """The keys of the widgets on the page, top to bottom."""
    keys = [node.key] if getattr(node, "key", None) else []
    for child in getattr(node, "children", {}).values():
        keys += keys_in_order(child)
    return keys


def test_undo_is_beside_every_people_action_and_goes_back_several_steps(
    album_files, saved_index
) -> None:
    app = start_app()
    open_indexed(app, album_files, saved_index)
    assert not [button for button in app.button if button.key == "undo"], "nothing to undo"
    app.button(key="person-1").click().run()
    app.text_input(key="name-1").input("Anna Nowak").run()
    assert app.button(key="undo").label == "Undo: rename Person 1", "on her own page"
    couple = app.session_state["session"].album.index.photos.id_of("race/couple.jpg")
    app.button(key=f"people-not-{couple}").click().run()
    assert app.button(key="undo").label == "Undo: take a photo from Anna Nowak"
    app.button(key="undo").click().run()
    assert any("Anna Nowak · 4 photos" in header.value for header in app.subheader)
    app.button(key="hide-1").click().run()  # back to everyone, without her
    assert not [button for button in app.button if button.key == "person-1"]
    assert app.button(key="undo").label == "Undo: hide Anna Nowak"
    app.button(key="undo").click().run()
    assert app.button(key="person-1").label == "4 photos"
    app.button(key="undo").click().run()  # and the name, the first change
    assert not [button for button in app.button if button.key == "undo"]
    app.button(key="person-1").click().run()
    assert any("Person 1 · 4 photos" in header.value for header in app.subheader)
    assert app.text_input(key="name-1").value == ""


def test_names_and_corrections_come_back_with_a_saved_index(album_files, saved_index) -> None:
    """What the user did in People (a name, a photo taken from a person, a hidden person) is
    in the index they save, and comes back when they open it with the album."""
    from facefind.search.people import PeopleNotes, group_people, without_photo
    from facefind.stores.npz import AlbumIndex

    index = AlbumIndex.load(io.BytesIO(saved_index))
    people = group_people(index, min_photos=1)
    couple = index.photos.id_of("race/couple.jpg")
    people = without_photo(index, people, 1, couple)
    notes = PeopleNotes(people, {1: "Anna Nowak"}, frozenset({2}))
    buffer = io.BytesIO()
    replace(index, people_notes=notes.to_json()).save(buffer)
    app = start_app()
    open_indexed(app, album_files, buffer.getvalue())
    assert app.button(key="person-1").label == "3 photos", "the correction came back"
    assert not [button for button in app.button if button.key == "person-2"], "still hidden"
    app.button(key="person-1").click().run()
    assert any("Anna Nowak · 3 photos" in header.value for header in app.subheader)


def test_two_people_can_be_merged_for_this_session_after_saying_yes(all_photos) -> None:
    files = {
        f"{name}": all_photos[name] for name in ("img1.jpg", "img2.jpg", "img16.jpg", "img17.jpg")
    }
    app = start_app()
    upload_album(app, files)
    assert [app.button(key=f"person-{n}").label for n in (1, 2)] == ["2 photos", "2 photos"]
    app.toggle(key="merge-mode").set_value(True).run()
    assert app.button(key="merge-ask").disabled, "nothing to merge with none ticked"
    order = keys_in_order(app.main)
    assert order.index("merge-ask") < order.index("merge-1"), "the button above the ticks"
    app.checkbox(key="merge-1").check().run()
    app.checkbox(key="merge-2").check().run()
    app.button(key="merge-ask").click().run()
    assert any("Merge 2 people into one?" in warning.value for warning in app.warning)
    assert app.checkbox(key="merge-2").value, "nothing is merged before the user says yes"
    app.button(key="merge-yes").click().run()
    assert not app.exception
    assert app.button(key="person-1").label == "4 photos"
    assert not [button for button in app.button if button.key == "person-2"]
    assert app.button(key="undo").label == "Undo: merge Person 1 and Person 2"
    app.button(key="undo").click().run()
    assert [app.button(key=f"person-{n}").label for n in (1, 2)] == ["2 photos", "2 photos"]


def test_a_saved_index_opens_with_its_album_without_indexing_again(album_files) -> None:
    """A reload or a second visit: the album and the index saved from it (as `facefind
    index` writes it), nothing indexed again; another album is refused in words."""
    import io

    from facefind.indexing.builder import build_index

    index = build_index(zip_bytes(album_files))
    buffer = io.BytesIO()
    index.save(buffer)
    app = start_app()
    app.sidebar.file_uploader[0].set_value(("race.facefind", buffer.getvalue(), "application/x"))
    upload_album(app, album_files)
    assert not app.exception
    details = [expander.label for expander in app.expander]
    assert any("1 notice" in label for label in details)
    assert any("nothing was indexed again" in info.value for info in app.info)
    assert metrics(app)["Photos"] == "8"
    assert app.sidebar.get("download_button")[0].label == "Save the index"
    app.main.file_uploader[0].set_value(
        ("other.zip", zip_bytes({"x.jpg": solid_jpeg((1, 2, 3))}), "application/zip")
    )
    app.run()
    assert any("made from another album" in error.value for error in app.error)
