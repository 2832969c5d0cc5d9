"""``GET /api/reports/contract?customer=&month=``: a customer's monthly contract statement, the
same figures as ``oncall report contract`` and the dashboard's statement page. Added to the
API's one blueprint (and its token guard) like :mod:`oncall.web.api.actions`."""

from __future__ import annotations

from flask import jsonify, request
from werkzeug.exceptions import BadRequest

from oncall.reports.contract import UnknownCustomer, contract_statement
from oncall.web.api.routes import _month_arg, bp
from oncall.web.context import runtime

MAX_KEY = 64  # customer keys are stored in 64 characters


@bp.get("/reports/contract")
def report_contract():
    rt = runtime()
    customer = request.args.get("customer", "")
    if not customer or len(customer) > MAX_KEY:
        raise BadRequest(
            f"customer= is a customer key of customers.yaml (1 to {MAX_KEY} characters)"
        )
    month = _month_arg()
    known = {key: (c.name, c.plan.key) for key, c in rt.directory().customers.items()}
    with rt.sessions() as session:
        try:
            statement = contract_statement(
                session, customer, month, rt.settings.zone, rt.clock.now(), known=known
            )
        except UnknownCustomer:
            return jsonify(error=f"no customer {customer!r}"), 404
    return jsonify(statement.to_dict())
