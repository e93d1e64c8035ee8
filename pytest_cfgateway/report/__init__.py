"""Result files people read: the HTML report and promptfoo's eval JSON.

Pure functions of result records as plain dicts (``CaseRecord.to_dict()``), already scrubbed
of secrets; nothing here knows pytest.
"""
