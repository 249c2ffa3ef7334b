"""Registry endpoints: entities and features, as the contract's Registry section."""
import urllib.parse
import unittest

from harness import DaemonTest


class RegistryTest(DaemonTest):
    def make_customer(self):
        s, doc = self.call("POST", "/v1/entities", {
            "name": "customer", "description": "a paying customer", "labels": {"team": "growth"}})
        self.assertEqual(s, 201, doc)
        return doc

    def test_entity_lifecycle(self):
        doc = self.make_customer()
        self.assertEqual(doc["entity"]["name"], "customer")
        self.assertEqual(doc["entity"]["labels"], {"team": "growth"})
        self.assertError(self.call("POST", "/v1/entities", {"name": "customer"}),
                         409, "ALREADY_EXISTS", "customer")
        s, doc = self.call("GET", "/v1/entities/customer")
        self.assertEqual(s, 200)
        self.assertEqual(doc["entity"]["description"], "a paying customer")
        self.assertEqual(doc["entity"]["features"], [])
        s, doc = self.call("GET", "/v1/entities")
        self.assertEqual([e["name"] for e in doc["entities"]], ["customer"])
        self.assertEqual(doc["next_page_token"], "")
        s, doc = self.call("DELETE", "/v1/entities/customer")
        self.assertEqual(s, 200, doc)
        self.assertError(self.call("GET", "/v1/entities/customer"), 404, "NOT_FOUND", "customer")

    def test_entity_pagination_and_token_scope(self):
        for i in range(5):
            self.assertEqual(self.call("POST", "/v1/entities", {"name": f"e{i}"})[0], 201)
        names, token = [], ""
        while True:
            s, doc = self.call("GET", f"/v1/entities?page_size=2&page_token={token}")
            self.assertEqual(s, 200, doc)
            names += [e["name"] for e in doc["entities"]]
            token = doc["next_page_token"]
            if not token:
                break
        self.assertEqual(names, ["e0", "e1", "e2", "e3", "e4"])
        s, doc = self.call("GET", "/v1/entities?page_size=2")
        tok = doc["next_page_token"]
        self.assertError(self.call("GET", f"/v1/entities/e0/features?page_token={tok}"),
                         400, "INVALID_ARGUMENT", "page_token")
        self.assertError(self.call("GET", "/v1/entities?page_size=1001"),
                         400, "INVALID_ARGUMENT", "page_size")

    def test_features_single_and_batch_all_or_nothing(self):
        self.make_customer()
        s, doc = self.call("POST", "/v1/entities/customer/features",
                           {"name": "age", "type": "INT64", "ttl_seconds": 3600,
                            "description": "age in years", "labels": {"pii": "yes"}})
        self.assertEqual(s, 201, doc)
        self.assertEqual(doc["feature"]["type"], "INT64")
        self.assertEqual(doc["feature"]["ttl_seconds"], 3600)
        # One bad spec: none of the batch lands.
        self.assertError(self.call("POST", "/v1/entities/customer/features", {"features": [
            {"name": "city", "type": "STRING"}, {"name": "Bad-Name", "type": "INT64"}]}),
            400, "INVALID_ARGUMENT", "Bad-Name")
        self.assertError(self.call("GET", "/v1/entities/customer/features/city"),
                         404, "NOT_FOUND", "city")
        # A duplicate of an existing one: 409, none lands.
        self.assertError(self.call("POST", "/v1/entities/customer/features", {"features": [
            {"name": "city", "type": "STRING"}, {"name": "age", "type": "INT64"}]}),
            409, "ALREADY_EXISTS", "age")
        s, doc = self.call("POST", "/v1/entities/customer/features", {"features": [
            {"name": "city", "type": "STRING"}, {"name": "emb", "type": "DOUBLE_ARRAY"}]})
        self.assertEqual(s, 201, doc)
        self.assertEqual([f["name"] for f in doc["features"]], ["city", "emb"])
        s, doc = self.call("GET", "/v1/entities/customer/features")
        self.assertEqual([f["name"] for f in doc["features"]], ["age", "city", "emb"])
        s, doc = self.call("GET", "/v1/entities/customer")
        self.assertEqual(len(doc["entity"]["features"]), 3)

    def test_feature_bad_specs(self):
        self.make_customer()
        cases = [
            ({"name": "x", "type": "FLOAT"}, "FLOAT"),
            ({"name": "x"}, "type"),
            ({"type": "INT64"}, "name"),
            ({"name": "x", "type": "INT64", "ttl_seconds": -1}, "ttl"),
            ({"name": "x", "type": "INT64", "ttl_seconds": "1"}, "ttl_seconds"),
            ({"name": "x", "type": "INT64", "labels": {"a": 1}}, "label"),
            ({"name": "x", "type": "INT64", "colour": "red"}, "colour"),
            ({"name": "x" * 65, "type": "INT64"}, "name"),
        ]
        for body, word in cases:
            with self.subTest(body=body):
                self.assertError(self.call("POST", "/v1/entities/customer/features", body),
                                 400, "INVALID_ARGUMENT", word)
        self.assertError(self.call("POST", "/v1/entities/nobody/features",
                                   {"name": "x", "type": "INT64"}), 404, "NOT_FOUND", "nobody")

    def test_patch_and_delete_feature(self):
        self.make_customer()
        self.call("POST", "/v1/entities/customer/features", {"name": "age", "type": "INT64"})
        s, doc = self.call("PATCH", "/v1/entities/customer/features/age",
                           {"description": "years", "ttl_seconds": 60, "labels": {"k": "v"}})
        self.assertEqual(s, 200, doc)
        self.assertEqual(doc["feature"]["description"], "years")
        self.assertEqual(doc["feature"]["ttl_seconds"], 60)
        self.assertEqual(doc["feature"]["labels"], {"k": "v"})
        # The contract's "incompatible type change" is a 409; a type that is
        # no type at all is a bad argument; the same type is no change.
        self.assertError(self.call("PATCH", "/v1/entities/customer/features/age",
                                   {"type": "STRING"}), 409, "ALREADY_EXISTS", "type")
        self.assertError(self.call("PATCH", "/v1/entities/customer/features/age",
                                   {"type": "INT65"}), 400, "INVALID_ARGUMENT", "INT65")
        self.assertError(self.call("PATCH", "/v1/entities/customer/features/age",
                                   {"type": "STRING", "name": "other"}), 409, "ALREADY_EXISTS")
        s, doc = self.call("PATCH", "/v1/entities/customer/features/age", {"type": "INT64"})
        self.assertEqual(s, 200, doc)
        s, doc = self.call("GET", "/v1/entities/customer/features/age")
        self.assertEqual(doc["feature"]["type"], "INT64")
        s, _ = self.call("DELETE", "/v1/entities/customer/features/age")
        self.assertEqual(s, 200)
        self.assertError(self.call("GET", "/v1/entities/customer/features/age"),
                         404, "NOT_FOUND")

    def test_delete_entity_with_values_needs_force(self):
        self.make_customer()
        self.call("POST", "/v1/entities/customer/features", {"name": "age", "type": "INT64"})
        s, doc = self.call("POST", "/v1/entities/customer:write",
                           {"rows": [{"entity_id": "c1", "values": {"age": 3}}]})
        self.assertEqual(s, 200, doc)
        self.assertError(self.call("DELETE", "/v1/entities/customer"),
                         412, "FAILED_PRECONDITION")
        self.assertEqual(self.call("GET", "/v1/entities/customer")[0], 200)
        s, doc = self.call("DELETE", "/v1/entities/customer?force=true")
        self.assertEqual(s, 200, doc)
        # Recreated, it holds nothing of the old values.
        self.make_customer()
        self.call("POST", "/v1/entities/customer/features", {"name": "age", "type": "INT64"})
        s, doc = self.call("GET", "/v1/entities/customer/values/c1")
        self.assertEqual(doc["features"]["age"]["status"], "NOT_FOUND")

    def test_search(self):
        self.make_customer()
        self.call("POST", "/v1/entities", {"name": "driver"})
        self.call("POST", "/v1/entities/customer/features", {"features": [
            {"name": "age", "type": "INT64", "description": "Age in years",
             "labels": {"pii": "yes"}},
            {"name": "spend_30d", "type": "DOUBLE", "description": "total spend"}]})
        self.call("POST", "/v1/entities/driver/features",
                  {"name": "rating", "type": "DOUBLE", "description": "average rating"})

        def names(q):
            s, doc = self.call("GET", "/v1/features:search?" + q)
            self.assertEqual(s, 200, doc)
            return [(f["entity"], f["name"]) for f in doc["features"]]
        # Terms are substrings: "age" is in "average rating" too.
        self.assertEqual(names("q=age"), [("customer", "age"), ("driver", "rating")])
        self.assertEqual(names("q=age%20pii"), [("customer", "age")])
        # Form encoding (Python's urlencode, curl --data-urlencode): '+' is a space.
        self.assertEqual(names(urllib.parse.urlencode({"q": "age label:pii=yes"})),
                         [("customer", "age")])
        self.assertEqual(names("q=YEARS"), [("customer", "age")])
        self.assertEqual(names("q=label:pii%3Dyes"), [("customer", "age")])
        self.assertEqual(names("q=label:pii%3Dno"), [])
        self.assertEqual(names("type=DOUBLE"), [("customer", "spend_30d"), ("driver", "rating")])
        self.assertEqual(names("type=DOUBLE&entity=driver"), [("driver", "rating")])
        self.assertEqual(names("q=total%20spend"), [("customer", "spend_30d")])
        first = self.call("GET", "/v1/features:search?page_size=1")[1]
        self.assertEqual(len(first["features"]), 1)
        rest = self.call("GET", "/v1/features:search?page_size=5&page_token="
                         + first["next_page_token"])[1]
        self.assertEqual(len(rest["features"]), 2)
        self.assertError(self.call("GET", "/v1/features:search?entity=nobody"),
                         404, "NOT_FOUND")


if __name__ == "__main__":
    unittest.main()
