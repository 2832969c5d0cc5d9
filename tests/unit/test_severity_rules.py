"""The engine of the severity rules, one rule at a time: what a phrase is said of (negation
and distance, past and resolved incidents, policy talk, planned maintenance, outside production,
doubt, questions, conditions), what counts as the message (no quoted history, signature,
footer or reply subject), typing slips, explicit markers in their spellings, the answers to
the severity menu, and the rules as data."""

from __future__ import annotations

import pytest

from oncall.domain.mail.signatures import opening_line, strip_signature
from oncall.domain.severity import (
    DEFAULT_SEVERITY_RULES,
    Decision,
    SeverityRules,
    SeverityVerdict,
    classify_severity,
)
from oncall.domain.severity_markers import find_markers, parse_answer, parse_sms_answer
from oncall.domain.severity_matching import similar
from oncall.domain.severity_rules import CONFIG_KEYS, contradictions, phrase_problem


def decide(subject: str, body: str = "") -> tuple[Decision, int | None, int | None]:
    verdict = classify_severity(subject, body)
    return verdict.decision, verdict.severity, verdict.lean


PAGE1 = (Decision.PAGE, 1, None)
LOW = (Decision.NOT_CRITICAL, 3, None)


# -- what a phrase is said of -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "cue"),
    [
        ("This is not a production down situation.", "not"),
        ("No outage here.", "no"),
        ("Production is not down, it is slow.", "not"),  # distance: the negation in between
        ("I don't think the system is down.", "don't"),
        ("We finished the migration without any data loss.", "without"),
        ("Es gibt keinen Datenverlust.", "keinen"),
        ("障害ではありません。", "ではありません"),
    ],
)
def test_negated_phrases_say_not_critical(body, cue):
    verdict = classify_severity("Hello", body)
    assert verdict.decision is Decision.NOT_CRITICAL
    assert verdict.reason.endswith(f'negated ("{cue}")')


def test_negations_reach_a_few_words_and_stop_at_a_clause():
    assert decide("", "It's not the network, but production is down for all users.") == PAGE1
    assert decide("", "Not only is checkout slow, it is down for all users now.") == PAGE1
    assert (
        decide("", "El sistema no funciona para todos los usuarios.") == PAGE1
    )  # "no" of "no funciona"
    assert decide("", "No idea why, but the site is down for everyone.") == PAGE1


def test_distance_between_a_phrases_words():
    assert classify_severity("", "Production has been down since 2am.").reason == (
        'phrase "production down"'
    )
    assert decide("", "The system will shut down for the upgrade tonight.") == LOW
    # "will" between the words is a plan, not a fact: no S1 phrase
    assert classify_severity("", "The system will go down.").severity != 1


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("The outage last night is resolved.", "about a resolved incident"),
        ("Please send the RCA for Tuesday's outage.", "about a resolved incident"),
        ("The outage yesterday cost us a lot.", "about a past incident"),
        ("What is your data loss policy?", "in policy talk"),
        ("What happens if production is down on a holiday?", "in policy talk"),
        ("If the portal goes down during our sale, who answers?", "in a condition"),
        ("Is the system down for maintenance this weekend?", "about planned maintenance"),
        ("Our staging environment is down.", "outside production"),
    ],
)
def test_critical_words_about_something_else_are_not_critical(body, why):
    verdict = classify_severity("Hello", body)
    assert verdict.decision is Decision.NOT_CRITICAL, verdict.reason
    assert why in verdict.reason


def test_what_is_still_happening_beats_the_past_and_maintenance():
    assert decide("", "Production has been down since last night and is still down.") == PAGE1
    assert decide("", "Since the planned maintenance, checkout fails for every customer.") == PAGE1
    assert decide("", "The outage is not resolved, checkout fails for all customers.") == PAGE1
    assert decide("", "When will it be fixed? The booking engine is down for everyone.") == PAGE1


def test_doubt_and_questions_lean():
    assert decide("Is production down?", "") == (Decision.ASK, None, 1)
    assert decide("", "Not sure if the database is corrupted.") == (Decision.ASK, None, 1)
    # a question that takes the trouble as given is a statement
    assert decide("", "Why is production down?") == PAGE1
    # a question about the future is a condition
    assert decide("", "Will the API be unavailable during the move?") == LOW
    # doubt with a low phrase: not critical
    assert decide("Quick question", "Is the system down? It works for me.") == LOW


def test_symptoms_lean_and_with_their_reach_are_s1():
    assert decide("Checkout", "Our checkout page is not working.") == (Decision.ASK, None, 2)
    assert decide("", "Checkout is not working for all our users.") == PAGE1
    assert decide("", "Not urgent, but the export fails.") == (Decision.ASK, None, None)


def test_urgency_leans_unless_a_low_phrase_says_otherwise():
    assert decide("URGENT", "Please call me.") == (Decision.ASK, None, 2)
    assert decide("dringend", "Bitte rufen Sie mich zurück.") == (Decision.ASK, None, 2)
    assert decide("緊急", "") == (Decision.ASK, None, 2)
    assert decide("URGENT", "How do I renew the license key?") == LOW


def test_nothing_found_is_asked_without_a_lean():
    assert classify_severity("Hello", "Please call me back tomorrow.") == SeverityVerdict(
        None, "no severity marker or critical phrase found"
    )


# -- what counts as the message ----------------------------------------------------------------
def test_signatures_phone_lines_and_footers_do_not_count():
    body = "Please change our invoice address.\n\n--\nWile\n24/7 production outage hotline"
    assert strip_signature(body) == "Please change our invoice address."
    assert decide("invoice", body)[0] is not Decision.PAGE
    assert (
        decide("", "Do you offer training?\n\nBest regards,\nRoad\nSeverity 1: ops@acme.example")
        == LOW
    )
    assert strip_signature("Down for all users\n\nSent from my iPhone") == "Down for all users"
    footer = "Add Jane please.\n\nCONFIDENTIALITY NOTICE: this may be a security incident."
    assert strip_signature(footer) == "Add Jane please."
    assert strip_signature("Thanks,\nproduction is down") == "Thanks,\nproduction is down"


def test_quoted_history_does_not_count():
    body = (
        "All good now.\n\nOn Tue, 24 Nov 2026, Support <s@vendor.example> wrote:\n"
        "> Sev 1: data loss"
    )
    assert decide("Re: update", body) == (Decision.NOT_CRITICAL, 3, None)


def test_a_replys_subject_is_the_threads_topic():
    # neither pages nor refuses: the body has to speak
    assert decide("RE: outage", "Please add my colleague to the list.") == (
        Decision.ASK,
        None,
        None,
    )
    assert decide("Re: site down", "Never mind, the site is back up now.") == LOW
    assert decide("Re: [Case 1042] Sev 1: down", "") == (Decision.PAGE, 1, None)  # a marker
    assert decide("Re: Sev 1 case 1042", "All good now, thanks!") == LOW


def test_the_body_explains_the_subject():
    assert decide("Outage notice", "About the scheduled outage on Saturday: noted.") == LOW
    assert decide("Site down", "Never mind, it was our DNS. All good now.") == LOW
    assert decide("Site down", "") == PAGE1


def test_the_first_line_is_found_past_the_greeting():
    assert opening_line("Hi team,\n\nSev 1 here\n") == (10, 20)
    assert opening_line("Guten Tag,\nDatenverlust") == (11, 23)
    verdict = classify_severity("Portal", "Hi team,\n\nSeverity 1: the portal is down.")
    assert verdict == SeverityVerdict(1, 'body marker "Severity 1"') and verdict.stated
    deep = classify_severity("Warehouse", "Pick lists are empty.\nI would call this a Sev 1.")
    assert deep.decision is Decision.ASK and deep.lean == 1 and not deep.stated


# -- typing slips --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("word", "typed", "same"),
    [
        ("production", "prodcution", True),  # swapped letters
        ("outage", "outtage", True),  # a doubled letter
        ("system", "sytem", True),  # one left out
        ("everyone", "evryone", True),
        ("workaround", "workaorund", True),
        ("customers", "custmers", True),
        ("outage", "outages", False),  # plurals are matched as such, not as slips
        ("broken", "broker", False),  # another word
        ("locked", "looked", False),
        ("failing", "falling", False),
        ("down", "dawn", False),  # short words are never guessed at
    ],
)
def test_one_slip_of_the_keyboard_is_forgiven_on_longer_words(word, typed, same):
    assert similar(word, typed) is same


def test_typos_page_like_the_words_they_mean():
    assert decide("prodcution is down", "for all users pls help") == PAGE1
    assert decide("site", "the site is unreachable for evryone") == PAGE1


# -- markers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("Level 1 - scanners offline", 1),
        ("Tier 2: reports", 2),
        ("Sev. 2 search", 2),
        ("Schweregrad 1: Shop", 1),
        ("Priorité 1 - paiements", 1),
        ("Severidad 2: informes", 2),
        ("prioridad 1", 1),
    ],
)
def test_markers_in_more_spellings(text, severity):
    (marker,) = find_markers(text)
    assert marker.severity == severity


@pytest.mark.parametrize("text", ["Tier 1 support team", "a level 2 engineer", "Tier 1 customer"])
def test_a_level_of_service_is_not_a_severity(text):
    assert find_markers(text) == []


# -- answers to the menu ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("1", 1),
        ("2.", 2),
        ("3)", 3),
        ("(1)", 1),
        ("S1", 1),
        ("sev 2", 2),
        ("Severity 1", 1),
        ("P2", 2),
        ("#3", 3),
        ("one", 1),
        ("Two!", 2),
        ("1 - production is down for everyone", 1),
        ("2, the export", 2),
        ("4", 4),
        ("1\ufe0f\u20e3", 1),  # a keycap emoji
        ("\uff12", 2),  # a full-width digit
        ("Option 3", 3),
    ],
)
def test_menu_answers(line, answer):
    assert parse_answer(line) == answer


@pytest.mark.parametrize(
    "line", ["", "1 user cannot log in", "2 of our sites", "1.5", "yes", "5", "10", "3 hours ago"]
)
def test_not_menu_answers(line):
    assert parse_answer(line) is None


def test_sms_answers_may_name_the_case():
    assert parse_sms_answer("1") == (1, None)
    assert parse_sms_answer("S2 1042") == (2, 1042)
    assert parse_sms_answer("case 1042: 3") == (3, 1042)
    assert parse_sms_answer("1 #1042") == (1, 1042)
    assert parse_sms_answer("ACK 1042") is None


# -- the rules are data ----------------------------------------------------------------------------
def test_rules_extend_and_ignore():
    rules = DEFAULT_SEVERITY_RULES.extended(
        {"S1": ["warehouse on fire"], "maintenance": ["patch night"]}, ignore=["outage"]
    )
    assert rules.s1_phrases[0] == "warehouse on fire"
    assert "outage" not in rules.s1_phrases
    assert classify_severity("", "The warehouse on fire.", rules).severity == 1
    assert classify_severity("", "We have an outage.", rules).decision is Decision.ASK
    assert classify_severity("", "Is production down for patch night?", rules).severity == 3
    assert rules.extended(negation_window=1).negation_window == 1


def test_the_built_in_rules_are_consistent():
    assert contradictions(DEFAULT_SEVERITY_RULES) == []
    assert all(phrase_problem(p) is None for p in DEFAULT_SEVERITY_RULES.s1_phrases)
    assert set(CONFIG_KEYS) >= {"S1", "S2", "low", "negations", "past", "maintenance"}
    bad = SeverityRules(s1_phrases=("meltdown",), low_phrases=("Meltdown",))
    assert contradictions(bad) == [("meltdown", "S1", "low")]


@pytest.mark.parametrize(
    ("phrase", "problem"),
    [
        ("", "is empty"),
        ("x", "too short"),
        ("500", "no letters"),
        ("one two three four five six seven eight nine", "longer than 8 words"),
    ],
)
def test_phrase_problems(phrase, problem):
    assert problem in (phrase_problem(phrase) or "")
