"""copy_chunks: COPY from an iterator of byte chunks built in a thread, in the caller's transaction."""

from __future__ import annotations

import threading

import psycopg2
import pytest
import sqlalchemy as sa

from community_dw.warehouse.copy import copy_chunks


def _table(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("create temp table chunked (n bigint, name text)")


def _threads() -> int:
    return sum(thread.name == "copy-chunks" for thread in threading.enumerate())


def test_chunks_in_gb18030_are_transcoded_by_the_server(warehouse: sa.Engine) -> None:
    conn = warehouse.raw_connection()
    try:
        _table(conn)
        chunks = [f"{i},刘䶮{i}\r\n".encode("gb18030") for i in range(1000)] + [b"1000,\r\n", b"1001,x"]
        assert copy_chunks(conn, "pg_temp.chunked", ["n", "name"], iter(chunks), encoding="GB18030") == 1002
        with conn.cursor() as cur:
            cur.execute("select name from pg_temp.chunked where n in (7, 1000, 1001) order by n")
            assert [row[0] for row in cur.fetchall()] == ["刘䶮7", None, "x"]
    finally:
        conn.rollback()
        conn.close()
    assert _threads() == 0


def test_bytes_the_server_refuses_raise_data_error(warehouse: sa.Engine) -> None:
    def endless():
        yield b"1,ok\n"
        yield b"2,\xff\xfe\n"  # not UTF-8
        # libpq sees the server's error only when the data ends: the rest is sent and discarded.
        for _ in range(100):
            yield b"3,more\n" * 1000

    conn = warehouse.raw_connection()
    try:
        _table(conn)
        with pytest.raises(psycopg2.DataError, match="UTF8"):
            copy_chunks(conn, "pg_temp.chunked", ["n", "name"], endless(), encoding="UTF8")
    finally:
        conn.rollback()
        conn.close()
    assert _threads() == 0


def test_an_error_building_chunks_fails_the_copy(warehouse: sa.Engine) -> None:
    def broken():
        yield b"1,ok\n"
        raise ValueError("chunk builder failed")

    conn = warehouse.raw_connection()
    try:
        _table(conn)
        with pytest.raises(ValueError, match="chunk builder failed"):
            copy_chunks(conn, "pg_temp.chunked", ["n", "name"], broken())
    finally:
        conn.rollback()
        conn.close()
    assert _threads() == 0
