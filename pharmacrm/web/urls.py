from django.urls import path

from pharmacrm.web import coverage, views

app_name = "web"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("language/", views.set_language, name="language"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views.revoke_token, name="revoke_token"),
    path("territories/", views.TerritoryListView.as_view(), name="territory_list"),
    path("territories/<int:pk>/", views.TerritoryDetailView.as_view(), name="territory_detail"),
    path("territories/<int:pk>/history/", views.TerritoryHistoryView.as_view(), name="territory_history"),
    path("territories/<int:pk>/assign/", coverage.territory_assign, name="territory_assign"),
    path("coverage/<int:pk>/correct/", coverage.assignment_correct, name="assignment_correct"),
    path("territories/<int:pk>/rules/add/", coverage.territory_rule_add, name="territory_rule_add"),
    path("territory-rules/<int:pk>/remove/", coverage.territory_rule_remove, name="territory_rule_remove"),
    path("people/", views.UserListView.as_view(), name="user_list"),
    path("people/<int:pk>/", views.UserDetailView.as_view(), name="user_detail"),
    path("people/<int:pk>/history/", views.UserHistoryView.as_view(), name="user_history"),
]
