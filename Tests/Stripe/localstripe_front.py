"""localstripe 1.15 for the tests, on 127.0.0.1 only, with the behaviour of Stripe it lacks.

Run: python3 Tests/Stripe/localstripe_front.py --port N

What this layer adds in front of localstripe's own app (everything else is localstripe's):
- Idempotency-Key: a POST repeated with the same key answers the first answer (status and body)
  without running again, as Stripe does for 24 hours. localstripe ignores the header.
- POST /_config/response_delay {"path": "/v1/payment_intents", "seconds": 5}: answers to POSTs on
  that path are held back that long *after* the request was carried out, so a test can kill the
  caller between Stripe doing the work and the caller learning of it.
- GET /v1/balance_transactions with `created[gte]`, `created[lt]`, `limit` and `starting_after`,
  newest first, as Stripe lists them. localstripe rejects the `created` filter, and it writes a
  charge's balance transaction at authorization and again at capture; Stripe writes one, when the
  charge is captured: this listing keeps that one only.
- No state on disk: localstripe pickles its whole store to /tmp/localstripe.pickle after every
  write, which is slow and shared between concurrent test processes; here it lives in memory only.
"""
import argparse
import asyncio

from aiohttp import web

from localstripe import resources
from localstripe.server import app

resources.Store.dump_to_disk = lambda self: None

_answers = {}
_locks = {}
_delays = {}


@web.middleware
async def response_delay(request, handler):
    if request.path == '/_config/response_delay':
        body = await request.json()
        _delays[body['path']] = float(body['seconds'])
        return web.json_response({'ok': True})
    response = await handler(request)
    delay = _delays.get(request.path, 0) if request.method == 'POST' else 0
    if delay:
        await asyncio.sleep(delay)
    return response


@web.middleware
async def idempotency(request, handler):
    key = request.headers.get('Idempotency-Key')
    if request.method != 'POST' or not key:
        return await handler(request)
    scope = (request.headers.get('Authorization', ''), key)
    lock = _locks.setdefault(scope, asyncio.Lock())
    async with lock:
        if scope in _answers:
            status, body, content_type = _answers[scope]
            return web.Response(status=status, body=body, content_type=content_type,
                                headers={'Idempotent-Replayed': 'true'})
        try:
            response = await handler(request)
        except web.HTTPException:
            raise
        if response.status < 500 and response.status != 409:
            _answers[scope] = (response.status, response.body, response.content_type)
        return response


@web.middleware
async def balance_transactions(request, handler):
    if request.method != 'GET' or request.path != '/v1/balance_transactions':
        return await handler(request)
    query = request.query
    try:
        gte = int(query.get('created[gte]', 0))
        lt = int(query.get('created[lt]', 2 ** 62))
        limit = int(query.get('limit', 10))
    except ValueError:
        return web.json_response({'error': {'type': 'invalid_request_error', 'message': 'Bad request'}}, status=400)
    starting_after = query.get('starting_after')
    latest_of_charge = {}
    listed = []
    for key, txn in sorted(resources.store.items(), key=lambda kv: (getattr(kv[1], 'created', 0), kv[0])):
        if not key.startswith('balance_transaction:'):
            continue
        if txn.source.startswith('ch_'):
            charge = resources.store.get('charge:' + txn.source)
            if charge is not None and charge.captured:
                latest_of_charge[txn.source] = txn
        else:
            listed.append(txn)
    listed += latest_of_charge.values()
    listed = [t for t in listed if gte <= t.created < lt]
    listed.sort(key=lambda t: (-t.created, t.id))
    if starting_after:
        ids = [t.id for t in listed]
        listed = listed[ids.index(starting_after) + 1:] if starting_after in ids else []
    page = listed[:limit]
    return web.json_response({'object': 'list', 'url': '/v1/balance_transactions', 'has_more': len(listed) > limit,
                              'data': [t._export() for t in page]})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    args = parser.parse_args()
    # First, so it sees every request (and replays even localstripe's own errors, as Stripe does).
    app.middlewares.insert(0, idempotency)
    app.middlewares.insert(0, response_delay)
    app.middlewares.append(balance_transactions)
    web.run_app(app, host='127.0.0.1', port=args.port, access_log=None, print=None)


if __name__ == '__main__':
    main()
