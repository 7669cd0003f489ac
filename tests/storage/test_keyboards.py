"""The live keyboard per chat, on every backend: swapped in one step, kept across restarts."""

from __future__ import annotations

from storage.repositories import Storage


def test_a_chat_has_one_live_keyboard_and_each_swap_gives_back_the_one_before(
    storage: Storage,
) -> None:
    with storage.unit_of_work() as uow:
        assert uow.keyboards.swap("telegram:1", 10) is None
        assert uow.keyboards.swap("telegram:1", 11) == 10  # seen within the unit of work
    with storage.unit_of_work() as uow:
        assert uow.keyboards.swap("telegram:2", 7) is None  # chats apart
        assert uow.keyboards.swap("telegram:1", None) == 11
    with storage.unit_of_work() as uow:
        assert uow.keyboards.swap("telegram:1", None) is None  # none left live
        assert uow.keyboards.swap("telegram:2", 2**40) == 7  # Telegram ids can be large
    with storage.unit_of_work() as uow:
        assert uow.keyboards.swap("telegram:2", 8) == 2**40


def test_a_swap_rolled_back_changes_nothing(storage: Storage) -> None:
    with storage.unit_of_work() as uow:
        uow.keyboards.swap("telegram:3", 30)
    try:
        with storage.unit_of_work() as uow:
            assert uow.keyboards.swap("telegram:3", 31) == 30
            raise RuntimeError("the turn failed")
    except RuntimeError:
        pass
    with storage.unit_of_work() as uow:
        assert uow.keyboards.swap("telegram:3", 32) == 30
