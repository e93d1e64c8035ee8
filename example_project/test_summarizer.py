"""An ordinary pytest test that calls a model through the gateway and grades the answer."""

import pytest


@pytest.mark.cf_gateway(provider="echo")
def test_summary_mentions_the_subject(cf_gateway, cf_assert):
    answer = cf_gateway.complete("Summarise: the weather is nice today")
    cf_assert(answer, "icontains", "weather")
    cf_assert(answer, "not-contains", "sorry")
