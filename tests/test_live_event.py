"""A live event against the real PostgreSQL + pgvector (pgserver), as an organiser runs one and
as a hostile runner would try it: photos indexed while it is served, photos removed, a runner
forgotten, a SELECT-only role, a database restart, and what runners are told."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from .builders import facefind, printed_jpeg
from .test_app import ROOT, shown_photos

#: person01 in img1, img2, img4 and couple.jpg (with a man in no other photo); person06 in
#: img16 (query img17); person11 in img20 (query img21); a bib reading 4711.
EVENT_PHOTOS = ["img1.jpg", "img2.jpg", "img4.jpg", "couple.jpg", "img16.jpg", "img20.jpg"]


def event_folder(tmp_path: Path, all_photos: dict[str, bytes], names: list[str]) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(all_photos[name])
    (folder / "bib.jpg").write_bytes(printed_jpeg("4711"))
    return folder


def index(folder: Path, url: str, *more: str) -> str:
    made = facefind("index", str(folder), "-o", url, "--model", "Dlib", "--no-text", *more)
    assert made.returncode == 0, made.stderr
    return made.stderr


def found_by(url: str, query: Path) -> set[str]:
    """The photos `facefind search` finds for one query photo (its JSON, at the default bar)."""
    searched = facefind("search", url, "--face", str(query), "--json")
    assert searched.returncode == 0, searched.stderr
    return {hit["photo"] for hit in json.loads(searched.stdout)["results"]}


def query(tmp_path: Path, all_photos: dict[str, bytes], name: str) -> Path:
    path = tmp_path / f"query-{name}"
    path.write_bytes(all_photos[name])
    return path


def runner(monkeypatch, where: str) -> AppTest:
    monkeypatch.setenv("FACEFIND_EVENT", where)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    app.run()
    assert not app.exception, app.exception
    return app


def selfie(app: AppTest, data: bytes) -> list[str]:
    app.file_uploader(key="query-photos").set_value(("me.jpg", data, "image/jpeg"))
    app.run()
    assert not app.exception, app.exception
    return shown_photos(app)


def page_text(app: AppTest) -> str:
    parts = [
        str(element.value)
        for kind in ("markdown", "warning", "info", "error")
        for element in getattr(app, kind)
    ]
    return " ".join(parts)


def test_photos_indexed_while_the_event_is_served_are_in_the_next_search(
    monkeypatch, tmp_path: Path, all_photos: dict[str, bytes], store_url: str
) -> None:
    folder = event_folder(tmp_path, all_photos, ["img1.jpg", "img16.jpg"])
    index(folder, store_url)
    app = runner(monkeypatch, store_url)
    assert "3 photos of this event" in page_text(app)
    assert selfie(app, all_photos["img5.jpg"]) == ["img1.jpg"]
    # the photographers upload two more, and the organiser indexes them with the server up
    for name in ("img2.jpg", "img4.jpg"):
        (folder / name).write_bytes(all_photos[name])
    assert "2 photos indexed now, 3 there already" in index(folder, store_url)
    app.run()  # the same runner's next search
    assert not app.exception, app.exception
    assert sorted(shown_photos(app)) == ["img1.jpg", "img2.jpg", "img4.jpg"]
    assert "5 photos of this event" in page_text(app), "the page's count follows"


def test_removed_photos_and_a_forgotten_runner_are_never_found_again(
    monkeypatch, tmp_path: Path, all_photos: dict[str, bytes], store_url: str
) -> None:
    folder = event_folder(tmp_path, all_photos, EVENT_PHOTOS)
    index(folder, store_url)
    me, person06, person11 = (
        query(tmp_path, all_photos, n) for n in ("img5.jpg", "img17.jpg", "img21.jpg")
    )
    assert found_by(store_url, me) == {"img1.jpg", "img2.jpg", "img4.jpg", "couple.jpg"}

    removed = facefind("remove", store_url, "img2.jpg", "no-such.jpg")
    assert removed.returncode == 0, removed.stderr
    assert "1 photo removed" in removed.stderr and "no-such.jpg: no such photo" in removed.stderr
    assert found_by(store_url, me) == {"img1.jpg", "img4.jpg", "couple.jpg"}
    assert found_by(store_url, person06) == {"img16.jpg"}, "the others' results are untouched"
    assert "0 photos indexed now" in index(folder, store_url), "indexing again brings none back"

    forgot = facefind("forget", store_url, "--face", str(me))
    assert forgot.returncode == 0, forgot.stderr
    assert "1 person forgotten" in forgot.stderr
    assert "2 photos that showed only them removed" in forgot.stderr  # img1, img4
    assert "1 photo kept for the other people in them" in forgot.stderr  # couple.jpg
    assert found_by(store_url, me) == set()
    assert found_by(store_url, person06) == {"img16.jpg"}
    assert found_by(store_url, person11) == {"img20.jpg"}
    people = facefind("people", store_url, "--min-photos", "1", "--json")
    everyone = json.loads(people.stdout)["people"]
    assert sorted(p for person in everyone for p in person["photos"]) == [
        "couple.jpg",
        "img16.jpg",
        "img20.jpg",
    ], "couple.jpg stays for the man in it; nobody's group holds the runner's photos"

    # a new photo of the forgotten runner: indexed, but their face is kept out
    (folder / "img6.jpg").write_bytes(all_photos["img6.jpg"])
    assert "1 photos indexed now" in index(folder, store_url)
    assert found_by(store_url, me) == set()

    # and a runner's selfie of them finds nothing in the served event, at the lowest bar
    app = runner(monkeypatch, store_url)
    assert selfie(app, all_photos["img5.jpg"]) == []
    app.slider(key="level").set_value(app.slider(key="level").min).run()
    assert shown_photos(app) == []
    assert selfie(app, all_photos["img17.jpg"]) == ["img16.jpg"]


def test_the_event_floor_keeps_runners_from_paging_through_everyone(
    monkeypatch, event_index: Path, all_photos: dict[str, bytes]
) -> None:
    from facefind.ui.event import EVENT_FLOOR

    app = runner(monkeypatch, str(event_index))
    selfie(app, all_photos["img5.jpg"])
    level = app.slider(key="level")
    assert level.min == EVENT_FLOOR and level.value == 50
    monkeypatch.setenv("FACEFIND_EVENT_FLOOR", "70")
    app.run()
    assert app.slider(key="level").min == 70, "the organiser sets it"


def test_a_select_only_role_serves_the_event(
    monkeypatch, tmp_path: Path, all_photos: dict[str, bytes], postgres, store_url: str
) -> None:
    from facefind.errors import FacefindError
    from facefind.stores.postgres import PostgresStore

    folder = event_folder(tmp_path, all_photos, ["img1.jpg", "img16.jpg"])
    index(folder, store_url)
    database = store_url.split("?")[0].rsplit("/", 1)[1]
    role = f"runner_{database[-6:]}"
    postgres.psql(f"CREATE ROLE {role} LOGIN; GRANT CONNECT ON DATABASE {database} TO {role};")
    import psycopg

    with psycopg.connect(store_url, autocommit=True) as owner:  # in the event's database
        owner.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        owner.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    reader_url = store_url.replace("postgresql://postgres:", f"postgresql://{role}:", 1)
    with pytest.raises(FacefindError, match="cannot write to the store"):
        PostgresStore(reader_url)  # the writer's open (migrations) is refused to this role
    with pytest.raises(FacefindError, match="read-only"):
        PostgresStore(reader_url, read_only=True).remove(["img1.jpg"])
    app = runner(monkeypatch, reader_url)
    assert selfie(app, all_photos["img5.jpg"]) == ["img1.jpg"]
    app.text_input[0].input("4711").run()
    assert "bib.jpg" in shown_photos(app)


def test_a_database_restart_between_two_searches(
    monkeypatch, tmp_path: Path, all_photos: dict[str, bytes]
) -> None:
    pgserver = pytest.importorskip("pgserver", reason="needs PostgreSQL: pip install pgserver")
    from pgserver._commands import pg_ctl

    server = pgserver.get_server(tmp_path / "pgdata", cleanup_mode="stop")
    try:
        server.psql("CREATE DATABASE restarted;")
        url = server.get_uri("restarted")
        folder = event_folder(tmp_path, all_photos, ["img1.jpg", "img16.jpg"])
        index(folder, url)
        app = runner(monkeypatch, url)
        assert selfie(app, all_photos["img5.jpg"]) == ["img1.jpg"]
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)
        app.run()  # every pooled connection is dead now: reconnected, the search tried again
        assert not app.exception, app.exception
        assert shown_photos(app) == ["img1.jpg"]
        assert not app.warning, [w.value for w in app.warning]

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
        app.run()  # the database is down: the runner is told to try again, nothing more
        assert not app.exception, app.exception
        said = page_text(app)
        assert "The event is busy: try again in a moment." in said
        assert "postgresql" not in said and "host=" not in said and "index" not in said
        server.ensure_postgres_running()
        app.run()
        assert shown_photos(app) == ["img1.jpg"]
        assert app.text_input, "the bib tab keeps its text box"
    finally:
        server.cleanup()
        shutil.rmtree(tmp_path / "pgdata", ignore_errors=True)


def test_query_photos_are_held_to_a_selfies_bounds(
    monkeypatch, event_index: Path, all_photos: dict[str, bytes]
) -> None:
    """A 14000x14000 PNG (a few hundred KB that decode to 196 MP) is refused before it is
    decoded; an upload is kept in memory up to the server's bound (Starlette spools a part
    over 1 MB to the disk otherwise)."""
    import io

    from PIL import Image
    from starlette.formparsers import MultiPartParser
    from streamlit import config

    from facefind.ui.serving import EVENT_UPLOAD_MB

    bomb = io.BytesIO()
    Image.new("1", (14000, 14000)).save(bomb, format="PNG")
    app = runner(monkeypatch, str(event_index))
    assert config.get_option("server.maxUploadSize") == EVENT_UPLOAD_MB
    assert MultiPartParser.spool_max_size > EVENT_UPLOAD_MB * 1024 * 1024
    app.file_uploader(key="query-photos").set_value(("huge.png", bomb.getvalue(), "image/png"))
    app.run()
    assert not app.exception, app.exception
    warned = " ".join(warning.value for warning in app.warning)
    assert "Cannot use huge.png: too many pixels (14000x14000" in warned
    assert shown_photos(app) == []


def test_photo_names_are_shown_as_plain_text(
    monkeypatch, tmp_path: Path, all_photos: dict[str, bytes]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    name = "**[free](evil.example)** :red[x].jpg"  # a file name cannot hold a "/"
    (folder / name).write_bytes(all_photos["img1.jpg"])
    (folder / "img16.jpg").write_bytes(all_photos["img16.jpg"])
    event = tmp_path / "event.facefind"
    index(folder, str(event))
    app = runner(monkeypatch, str(event))
    assert selfie(app, all_photos["img5.jpg"]) == [name]
    raw = [c for image in app.get("image") for c in image.captions if "evil" in c]
    assert raw and r"\*\*\[free\]\(evil.example\)\*\* \:red\[x\]" in raw[0]


def test_an_index_file_forgets_too_and_an_index_written_over_it_keeps_forgetting(
    monkeypatch, tmp_path: Path, all_photos: dict[str, bytes]
) -> None:
    folder = event_folder(tmp_path, all_photos, EVENT_PHOTOS)
    event = tmp_path / "event.facefind"
    index(folder, str(event))
    app = runner(monkeypatch, str(event))  # served while the organiser works on its file
    assert sorted(selfie(app, all_photos["img5.jpg"])) == sorted(
        ["img1.jpg", "img2.jpg", "img4.jpg", "couple.jpg"]
    )
    me = query(tmp_path, all_photos, "img5.jpg")
    forgot = facefind("forget", str(event), "--face", str(me))
    assert forgot.returncode == 0, forgot.stderr
    assert "3 photos that showed only them removed" in forgot.stderr
    app.run()  # the served event reads the file written again
    assert not app.exception, app.exception
    assert shown_photos(app) == []
    assert "4 photos of this event" in page_text(app)  # couple, img16, img20, bib
    assert found_by(str(event), query(tmp_path, all_photos, "img17.jpg")) == {"img16.jpg"}
    again = index(folder, str(event))
    assert "1 person who asked not to be found stays out" in again
    assert found_by(str(event), me) == set()


def test_indexing_again_repairs_a_store_whose_files_changed_or_went(
    monkeypatch, tmp_path: Path, all_photos: dict[str, bytes], store_url: str
) -> None:
    folder = event_folder(tmp_path, all_photos, ["img1.jpg", "img16.jpg", "img20.jpg"])
    index(folder, store_url)
    person06, person11 = (query(tmp_path, all_photos, n) for n in ("img17.jpg", "img21.jpg"))
    assert found_by(store_url, person06) == {"img16.jpg"}
    app = runner(monkeypatch, store_url)
    assert selfie(app, all_photos["img17.jpg"]) == ["img16.jpg"]
    # img16.jpg is now another photo (of person11), and img20.jpg is gone
    (folder / "img16.jpg").write_bytes(all_photos["img21.jpg"])
    (folder / "img20.jpg").unlink()
    app.run()
    assert shown_photos(app) == [], "the changed file is not served as the photo it was"
    said = index(folder, store_url)
    assert "1 photos changed since they were indexed: indexing them again" in said
    assert "1 photos of the store are no longer in the folders (first: img20.jpg)" in said
    assert found_by(store_url, person06) == set()
    assert found_by(store_url, person11) == {"img16.jpg", "img20.jpg"}
    app.run()
    assert shown_photos(app) == [], "img20.jpg is not served while it is gone"
    pruned = index(folder, store_url, "--prune")
    assert "1 photos no longer in the folders were removed from the store" in pruned
    assert found_by(store_url, person11) == {"img16.jpg"}
