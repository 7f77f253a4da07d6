"""Recommendations: behaviour events, shopper profiles, the trained blend model, the recommender and its evaluation."""
