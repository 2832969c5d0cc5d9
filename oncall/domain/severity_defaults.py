"""The built-in lists of :class:`oncall.domain.severity_rules.SeverityRules` (what each list
means is said there). A manager adds to them in ``config.yaml`` (``email.severity_phrases``)
and drops one with ``ignore``; ``tests/fixtures/severity_corpus.yaml`` is how a change to them
is judged (``python benchmarks/severity_corpus.py``)."""

from __future__ import annotations

# Data tables, several phrases a line: one a line would make this file four times as long.
# fmt: off

_S1 = (
    # production down, for everyone
    "down for all users", "down for everyone", "all users are down", "all users affected",
    "system down", "system is down", "production down", "production is down", "prod down",
    "prod is down", "production outage", "outage", "out of service", "completely down",
    "site is down", "site down", "website is down", "website down", "platform is down",
    "service is down", "everything is down", "all systems down", "nothing works",
    "nobody can log in", "no one can log in", "cannot log in at all", "can't log in at all",
    "unable to log in at all", "nobody can work", "no one can work", "nobody can access",
    "no one can access", "no users can log in", "none of our users can",
    "none of our customers can", "no users can", "no customers can",
    # the business stopped
    "losing sales", "losing money", "losing revenue", "losing orders", "cannot take payments",
    "can't take payments", "unable to take payments", "cannot take orders", "can't take orders",
    "no orders are coming in", "customers cannot pay", "customers can't pay",
    "customers cannot order", "customers can't order", "cannot accept payments",
    "can't accept payments",
    # data and security
    "security breach", "security incident", "data breach", "data leak", "data loss",
    "data corruption", "database corrupted", "lost all data", "ransomware", "we have been hacked",
    "we were hacked", "unauthorized access", "under attack", "ddos",
    # other languages
    "produktionsausfall", "totalausfall", "ausfall", "datenverlust", "produktion steht",
    "sicherheitsvorfall", "production en panne", "panne totale", "perte de données",
    "incident de sécurité", "producción caída", "sistema caído", "caída total",
    "pérdida de datos", "incidente de seguridad", "本番環境停止", "本番停止", "システム停止",
    "全面停止", "データ消失", "情報漏洩", "生产环境宕机", "系统宕机", "数据丢失",
)

_S2 = (
    "no workaround", "no work-around", "without a workaround",
    "without workaround", "important function", "major function", "key function",
    "critical function", "core function", "badly degraded", "severely degraded",
    "heavily degraded", "partial outage", "partially down",
    "some users cannot", "some users can't", "some customers cannot", "some customers can't",
    "cannot process", "can't process", "keine umgehung", "kein workaround",
    "pas de contournement", "aucun contournement", "sin solución alternativa",
)

_SYMPTOMS = (
    "down", "is down", "are down", "went down", "goes down", "degraded", "broken", "is broken",
    "not working", "isn't working", "aren't working", "doesn't work", "does not work",
    "don't work", "do not work", "stopped working", "no longer works", "no longer working",
    "not loading", "won't load", "doesn't load", "does not load", "fails", "failing",
    "failed", "failure", "errors", "error", "error 500", "500 error", "http 500", "http 502",
    "http 503", "502", "503", "504", "crashed", "crashing", "crashes", "keeps crashing",
    "unreachable", "not reachable", "unavailable", "not available", "inaccessible",
    "cannot access", "can't access", "can not access", "unable to access", "cannot log in",
    "can't log in", "can not log in", "cannot login", "can't login", "unable to log in",
    "unable to login", "locked out", "cannot connect", "can't connect", "unable to connect",
    "connection refused", "timing out", "times out", "timed out", "timeouts", "hangs",
    "hanging", "frozen", "offline", "not responding", "unresponsive", "blank page",
    "white screen", "won't start", "does not start", "doesn't start", "corrupted", "stopped",
    "not sent", "not been sent", "not being sent", "not received", "not receiving",
    "not arriving", "not delivered",
    "ausgefallen", "funktioniert nicht", "geht nicht", "nicht erreichbar", "fehler",
    "en panne", "ne fonctionne pas", "ne marche pas", "erreur", "no funciona", "caído",
    "no responde", "障害", "停止", "ダウン", "つながらない", "エラー", "ログインできません",
    "宕机", "无法访问", "故障",
)

_IMPACT = (
    "for everyone", "for all users", "all users", "all our users", "all of our users",
    "every user", "every single user", "all customers", "all our customers",
    "all of our customers", "every customer", "for every customer", "everybody",
    "entire company", "whole company", "company-wide", "all locations", "all sites",
    "all stores", "all our stores", "all branches", "all regions", "all employees",
    "all staff", "worldwide", "globally", "nobody", "no one", "none of our users",
    "none of our customers", "alle benutzer", "alle nutzer", "alle kunden",
    "tous les utilisateurs", "tous nos clients", "todos los usuarios", "todos los clientes",
    "全ユーザー", "全員", "所有用户",
)

_URGENCY = (
    "urgent", "urgently", "asap", "as soon as possible", "emergency", "immediately",
    "right away", "sos", "top priority", "high priority", "highest priority", "blocker",
    "showstopper", "show stopper", "dringend", "eilig", "notfall", "sofort", "urgente",
    "urgence", "en urgence", "emergencia", "urgentissimo", "срочно", "pilne", "spoed",
    "brådskande", "acil", "緊急", "至急", "大至急", "紧急",
)

_LOW = (
    "feature request", "enhancement request", "how do i", "how to", "how can i",
    "question about", "quick question", "license key", "documentation", "not urgent",
    "no rush", "low priority", "when you have time", "when you get a chance",
    "at your convenience", "next week is fine", "cosmetic", "typo", "misaligned", "spelling",
    "fyi", "just fyi", "for your information", "no action needed", "no action required",
    "just letting you know", "password reset", "reset my password", "add a user",
    "new user account", "my password", "forgot my password", "password expired",
    "by tomorrow", "by end of day", "by the end of the week", "by next week", "for an audit",
    "billing question", "invoice question", "copy of the invoice",
    "training", "webinar", "minor issue", "small issue", "nice to have", "suggestion",
    "not critical", "non-critical", "not a big deal", "only one user", "one user",
    "a single user", "one customer", "a single customer", "only me", "just me",
    "nicht dringend", "keine eile", "pas urgent", "pas pressé", "no es urgente",
    "no urgente", "sin prisa", "緊急ではありません", "急ぎません", "急ぎではありません",
    "不急",
)

_NEGATIONS = (
    "not", "no", "isn't", "aren't", "wasn't", "weren't", "don't", "doesn't", "didn't",
    "haven't", "hasn't", "hadn't", "won't", "wouldn't", "never", "without", "nor", "neither",
    "none", "nothing", "nicht", "kein", "keine", "keinen", "keinem", "keiner", "nie", "ohne",
    "pas", "aucun", "aucune", "sans", "jamais", "non", "sin", "nunca", "ningún", "ninguna",
    "ではありません", "ではない", "じゃない", "ありません", "不是", "没有",
)

_NOT_NEGATIONS = (
    "not only", "not just", "no doubt", "not sure", "no idea", "don't know", "do not know",
    "no longer",
)

_RESOLVED = (
    "resolved", "fixed", "restored", "recovered", "back up", "back online", "back to normal",
    "working again", "works again", "up again", "up and running", "rca", "root cause",
    "post-mortem", "postmortem", "post mortem", "incident report", "what happened",
    "lessons learned", "service credit", "sla credit", "all good", "all fine",
    "everything works", "works fine", "works now", "working now", "you can close", "réglé",
    "behoben", "gelöst",
    "wieder verfügbar", "résolu", "rétabli", "resuelto", "solucionado", "restablecido", "復旧",
    "解決", "已恢复",
)

_UNRESOLVED = (
    "be", "get", "gets", "getting", "got to", "need", "needs", "want", "until", "when",
    "must", "should",
)

_PAST = (
    "yesterday", "last night", "last week", "last weekend", "last month", "last year",
    "last time", "earlier this week", "the other day", "previously", "previous",
    "in the past", "back in", "gestern", "letzte woche", "vorige woche", "hier soir",
    "la semaine dernière", "ayer", "anoche", "la semana pasada", "昨日", "先週", "昨晚", "上周",
)

_ONGOING = (
    "still", "again", "since", "currently", "right now", "now", "at the moment", "ongoing",
    "continues", "continuing", "keeps", "persists", "as we speak", "as of now", "for hours",
    "all night", "all morning", "immer noch", "noch immer", "weiterhin", "seit", "gerade",
    "toujours", "depuis", "actuellement", "todavía", "sigue", "desde", "ahora", "actualmente",
    "まだ", "現在", "仍然", "一直",
)

_POLICY = (
    "policy", "policies", "what happens if", "what happens when", "what would happen",
    "in case of", "in the event of", "in the event that", "what counts as",
    "what is considered", "qualifies as", "definition of", "procedure", "procedures",
    "process for", "how do you handle", "how would you handle", "hypothetically",
    "hypothetical", "in theory", "sla for", "covered by", "disaster recovery", "dr plan",
    "dr test", "tabletop", "in the future", "to prevent", "how to prevent", "to avoid",
    "protect against",
    "richtlinie", "was passiert wenn", "politique", "que se passe-t-il si", "política",
    "qué pasa si", "ポリシー",
)

_CONDITIONAL = (
    "if", "in case", "should the", "may", "might", "wenn", "falls", "si", "もし",
)

_DOUBT = (
    "not sure if", "not sure whether", "unsure if", "unsure whether", "no idea if",
    "don't know if", "don't know whether", "do not know if", "wondering if",
    "wondering whether", "i wonder", "whether", "check if", "check whether", "see if",
    "tell me if", "is it just", "is this considered", "does this count as", "would this be",
    "could this be", "maybe", "perhaps", "possibly",
)

_MAINTENANCE = (
    "maintenance", "for maintenance", "maintenance window", "scheduled maintenance",
    "planned maintenance",
    "planned outage", "scheduled outage", "planned downtime", "scheduled downtime",
    "maintenance this weekend", "maintenance tonight", "upgrade window", "change window",
    "for the upgrade", "for an upgrade", "for the update", "for an update",
    "wartung", "wartungsfenster", "geplante wartung", "maintenance planifiée", "mantenimiento",
    "mantenimiento programado",
    "メンテナンス", "计划维护",
)

_CAUSES = (
    "since", "after", "following", "seit", "nach", "depuis", "après", "desde", "después",
)

_NON_PRODUCTION = (
    "staging", "stage environment", "test environment", "testing environment",
    "test system", "test server", "test instance", "test site", "sandbox",
    "dev environment", "development environment", "dev server", "dev instance",
    "qa environment", "uat", "demo environment", "demo instance", "training environment",
    "preprod", "pre-production", "non-production", "testumgebung", "entwicklungsumgebung",
    "environnement de test", "entorno de pruebas", "検証環境", "テスト環境", "测试环境",
)

_PRESUPPOSING = (
    "why", "when will", "how long", "how soon", "is anyone", "is anybody", "is someone",
    "can someone", "can somebody", "could someone", "can anyone", "could anyone", "can you",
    "could you", "would you", "will someone", "will anyone", "any update", "any news",
    "any eta", "what is going on", "what's going on", "what is happening",
    "what's happening", "anyone there", "warum", "wann", "pourquoi", "quand", "por qué",
    "cuándo", "なぜ", "为什么",
)

# fmt: on

#: Keyword arguments of :class:`~oncall.domain.severity_rules.SeverityRules`.
DEFAULT_LISTS: dict[str, tuple[str, ...]] = {
    "s1_phrases": _S1,
    "s2_phrases": _S2,
    "low_phrases": _LOW,
    "symptom_phrases": _SYMPTOMS,
    "impact_phrases": _IMPACT,
    "urgency_phrases": _URGENCY,
    "negations": _NEGATIONS,
    "not_negations": _NOT_NEGATIONS,
    "resolved_cues": _RESOLVED,
    "unresolved_cues": _UNRESOLVED,
    "past_cues": _PAST,
    "ongoing_cues": _ONGOING,
    "policy_cues": _POLICY,
    "conditional_cues": _CONDITIONAL,
    "doubt_cues": _DOUBT,
    "maintenance_cues": _MAINTENANCE,
    "cause_cues": _CAUSES,
    "non_production_cues": _NON_PRODUCTION,
    "presupposing": _PRESUPPOSING,
}
