// GraphiQL for dev mode, signed in as the page's user when there is one (same origin, same storage).
(function () {
  const token = localStorage.getItem("aidmap.token");
  const fetcher = GraphiQL.createFetcher({
    url: "/graphql",
    headers: token ? { Authorization: "Bearer " + token } : {},
  });
  const defaultQuery = [
    "# Needs near Hoàn Kiếm, nearest first. Sign in on the page (/) to act as yourself here.",
    "{",
    "  needs(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 3000, first: 5) {",
    "    edges { distanceMeters node { title category quantity unit urgency approximateLocation { lat lon } } }",
    "  }",
    "}",
    "",
  ].join("\n");
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultQuery: defaultQuery }),
  );
})();
