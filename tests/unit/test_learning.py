"""Learned rules on plain data: who counts as the same payer, when a rule places, and a
declined candidate never comes back."""

from __future__ import annotations

from reconciliation.learning import LearnedRules, Rule, apply_rules, lesson, payer_keys
from reconciliation.match import CityIndex
from reconciliation.model import AccountInfo, Candidate, Decision, PaymentRecord

A, B, C = "12345674", "23456781", "34567899"
IBAN = "MD24AG000225100013104168"
INDEX = CityIndex.build(
    [
        AccountInfo(A, "Ion Rusu", "x"),
        AccountInfo(B, "Ana", "y"),
        AccountInfo(C, "Vlad", "z", "closed"),
    ],
    [],
)


def rec(text="Ion Rusu, str. Ismail 86", name="Ion Rusu", iban=None, amount=1000):
    return PaymentRecord(
        "camt053", "x1", amount, remittance=text, debtor_name=name, debtor_iban=iban
    )


def review(reason="NAME_ONLY", *cands):
    return Decision(
        "review", reason=reason, candidates=tuple(Candidate(c, 0.5, "n") for c in cands)
    )


def test_the_same_habit_in_another_month_is_the_same_key():
    nov = payer_keys(None, "Ion RUSU", "Ion Rusu, str. Ismail 86, noiembrie 2026, 150.00")
    dec = payer_keys(None, "Ion Rusu", "Ion Rusu, str. Ismail 86, decembrie 2026, 171.20")
    assert nov == dec and nov[0].startswith("text:")
    assert payer_keys(None, None, "plata servicii comunale") == ()  # generic, nameless: no key
    assert payer_keys(None, None, "Ion Rusu, str. Ismail 86") == ("text:|ion rusu str ismail 86",)
    assert payer_keys(None, "Ion Rusu", None) == ()  # a name alone is never a key
    assert payer_keys(IBAN, None, None) == (f"iban:{IBAN}",)
    assert payer_keys("MD00BAD", None, None) == ()


def test_a_rule_places_only_a_learnable_review_on_an_open_account():
    key = payer_keys(None, "Ion Rusu", "Ion Rusu, str. Ismail 86")[0]
    rules = LearnedRules(place={key: Rule(7, A, 2)})
    decisions = [review(), review("MULTIPLE_ACCOUNTS"), Decision("allocate", {B: 1000})]
    out, used = apply_rules([rec(), rec(), rec()], decisions, rules, INDEX)
    assert (out[0].status, out[0].accounts, out[0].reason) == ("allocate", {A: 1000}, "LEARNED")
    assert used[0] == 7
    assert "learned from 2 decisions (rule 7)" in out[0].evidence
    assert out[1].status == "review" and out[2].accounts == {B: 1000} and used[1:] == [None, None]
    closed = LearnedRules(place={key: Rule(8, C, 3)})
    assert apply_rules([rec()], [review()], closed, INDEX)[0][0].status == "review"


def test_an_iban_rule_does_not_override_a_number_in_the_text():
    rules = LearnedRules(place={f"iban:{IBAN}": Rule(1, A, 2)})
    r = rec(text="cont 1234567-9", name=None, iban=IBAN)
    assert apply_rules([r], [review("CHECK_DIGIT_FAILED")], rules, INDEX)[0][0].status == "review"
    assert apply_rules([r], [review("NO_REFERENCE")], rules, INDEX)[0][0].status == "allocate"


def test_a_declined_candidate_is_never_proposed_again_for_that_payer():
    key = payer_keys(None, "Ion Rusu", "Ion Rusu, str. Ismail 86")[0]
    rules = LearnedRules(declined={key: frozenset({B})})
    out, _ = apply_rules([rec(), rec(name="Other")], [review("NAME_ONLY", B, A)] * 2, rules, INDEX)
    assert [c.account_no for c in out[0].candidates] == [A]
    assert [c.account_no for c in out[1].candidates] == [B, A]  # another payer still sees it


def test_a_lesson_declines_every_other_candidate():
    ls = lesson(("k",), A, [B, A, C, B])
    assert (ls.account_no, ls.declined) == (A, (B, C))
    assert lesson((), A, [B]) is None
    assert lesson(("k",), None, [A, B]).declined == (A, B)
